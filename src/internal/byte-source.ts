import { Readable } from 'node:stream';
import { InvalidValueError } from '../errors.ts';
import type { ByteSource } from '../transport.ts';

/**
 * Yields exactly `size` bytes of `source`, failing if it holds fewer or more.
 * A snapshot whose size disagrees with its data would desynchronise a network
 * stream, so every transport enforces the same rule.
 */
export async function* exactly(source: ByteSource, size: number): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const raw of source as AsyncIterable<unknown>) {
    const chunk = asBytes(raw);
    if (chunk.length === 0) continue;
    if (seen + chunk.length > size) {
      throw new InvalidValueError(`snapshot data is longer than the declared size of ${size} bytes`);
    }
    seen += chunk.length;
    yield chunk;
  }
  if (seen !== size) {
    throw new InvalidValueError(`snapshot data ended after ${seen} of the declared ${size} bytes`);
  }
}

/** A byte stream (not object mode) over exactly `size` bytes of `source`. */
export function exactReadable(source: ByteSource, size: number): Readable {
  return Readable.from(exactly(source, size), { objectMode: false });
}

function asBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new InvalidValueError('snapshot data must be a stream of bytes (Uint8Array chunks)');
}
