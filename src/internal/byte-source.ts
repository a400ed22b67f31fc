import { Readable } from 'node:stream';
import { InvalidValueError, isTransportError, SnapshotSourceError } from '../errors.ts';
import type { ByteSource } from '../transport.ts';

/**
 * Yields exactly `size` bytes of `source`, failing if it holds fewer or more.
 * A snapshot whose size disagrees with its data would desynchronise a network
 * stream, so every transport enforces the same rule. The source's own errors
 * come out as ERR_SNAPSHOT_SOURCE, with the original as `cause`.
 */
export async function* exactly(source: ByteSource, size: number): AsyncGenerator<Uint8Array> {
  let seen = 0;
  let finished = false;
  const it = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]?.() ?? syncIterator(source);
  try {
    for (;;) {
      let step: IteratorResult<unknown>;
      try {
        step = await it.next();
      } catch (err) {
        throw isTransportError(err)
          ? err
          : new SnapshotSourceError(`reading the snapshot data failed: ${String((err as Error)?.message ?? err)}`, {
              cause: err,
            });
      }
      if (step.done === true) {
        finished = true;
        break;
      }
      const chunk = asBytes(step.value);
      if (chunk.length === 0) continue;
      if (seen + chunk.length > size) {
        throw new InvalidValueError(`snapshot data is longer than the declared size of ${size} bytes`);
      }
      seen += chunk.length;
      yield chunk;
    }
  } finally {
    // Stopped early (by us or our consumer): let the source close its file or socket.
    if (!finished) await closeIterator(it);
  }
  if (seen !== size) {
    throw new InvalidValueError(`snapshot data ended after ${seen} of the declared ${size} bytes`);
  }
}

/** A byte stream (not object mode) over exactly `size` bytes of `source`. */
export function exactReadable(source: ByteSource, size: number): Readable {
  return Readable.from(exactly(source, size), { objectMode: false });
}

/**
 * Releases whatever `source` holds open when a transport will not read it
 * (to the end): a stream is destroyed, an iterator is returned. A re-iterable
 * value (an array, an iterable that opens its resource per iteration) holds
 * nothing until iterated, so it is left alone. Never throws.
 */
export function finishSource(source: ByteSource): void {
  const s = source as { destroy?: unknown; next?: unknown; return?: unknown };
  try {
    if (typeof s.destroy === 'function') {
      (s.destroy as () => void).call(source);
    } else if (typeof s.next === 'function' && typeof s.return === 'function') {
      const r = (s.return as () => unknown).call(source);
      if (r instanceof Promise) r.catch(() => {});
    }
  } catch {
    // A source that cannot even be closed has nothing more we can release.
  }
}

function syncIterator(source: ByteSource): Iterator<unknown> {
  return (source as Iterable<unknown>)[Symbol.iterator]();
}

async function closeIterator(it: Iterator<unknown> | AsyncIterator<unknown>): Promise<void> {
  try {
    await it.return?.();
  } catch {
    // Closing is best effort: the call already has its error.
  }
}

function asBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new InvalidValueError('snapshot data must be a stream of bytes (Uint8Array chunks)');
}
