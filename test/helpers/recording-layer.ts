/** A StreamLayer wrapper that lets a test see the sockets its transport dials, without reaching into the transport. */
import type { Duplex } from 'node:stream';
import { runInNewContext } from 'node:vm';
import * as v8 from 'node:v8';
import type { StreamLayer } from '../../src/net/layers/stream-layer.ts';

export class RecordingLayer implements StreamLayer {
  /** Every socket dialed so far, held weakly: a test can count those still alive after a GC. */
  readonly dialed: Array<WeakRef<Duplex>> = [];
  /** The most recently dialed socket (held strongly until the next dial). */
  last: Duplex | undefined;
  private readonly inner: StreamLayer;

  constructor(inner: StreamLayer) {
    this.inner = inner;
  }

  accept(): Promise<Duplex> {
    return this.inner.accept();
  }

  async dial(address: string, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    const s = await this.inner.dial(address, timeoutMs, signal);
    this.dialed.push(new WeakRef(s));
    this.last = s;
    return s;
  }

  addr(): string {
    return this.inner.addr();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Dialed sockets not yet garbage collected. */
  alive(): number {
    return this.dialed.filter((r) => r.deref() !== undefined).length;
  }
}

/** A full, synchronous garbage collection (V8's gc() obtained at runtime; the flag only exposes it). */
export function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}
