/**
 * In-process connections whose receiving end delivers each chunk in a Buffer
 * of its own making, which it later reuses: a StreamLayer that decrypts or
 * decompresses into buffers it recycles does this. Every written chunk is
 * copied into a new Buffer that the receiving end pushes and remembers;
 * `reuse()` overwrites every Buffer pushed so far. The StreamLayer contract
 * allows that once the transport has read the messages in them (every call
 * answered), so a transport that kept views of those Buffers instead of
 * copying what it hands out is caught: the kept bytes change.
 *
 * The ends are either a plain Duplex or a subclass of net.Socket: a subclass
 * can override push/_read/_write like this one, so the transport must treat
 * it as any other Duplex rather than as Node's own socket.
 */
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { ByReferenceNetwork, type ByReferenceStreamLayer } from './by-reference-stream-layer.ts';

/** What the bytes of a reused Buffer become: a byte msgpack never uses. */
export const REUSED = 0xc1;

/** One end of a reusing pair. */
export interface ReusingEnd extends Duplex {
  peer: ReusingEnd | undefined;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  /** Takes a chunk the other end wrote: pushes a copy of its own, to be overwritten by `reuse()`. */
  receive(chunk: Buffer): void;
  /** Overwrites every Buffer this end pushed since the last call. */
  reuse(): void;
  /** Whether `buffer` is the memory behind a Buffer this end ever pushed. */
  pushedFrom(buffer: ArrayBufferLike): boolean;
}

/** `emitClose`: 'close' must be emitted by hand (net.Socket turns off the stream's own and emits it itself). */
function endClass(Base: typeof Duplex, emitClose: boolean): new () => ReusingEnd {
  return class End extends Base implements ReusingEnd {
    peer: ReusingEnd | undefined = undefined;
    // Own fields: on a net.Socket they shadow the accessors that ask a handle.
    remoteAddress: string | undefined = undefined;
    remotePort: number | undefined = undefined;
    #pushed: Buffer[] = [];
    readonly #ever = new WeakSet<ArrayBufferLike>();

    receive(chunk: Buffer): void {
      const own = Buffer.allocUnsafeSlow(chunk.length);
      own.set(chunk);
      this.#pushed.push(own);
      this.#ever.add(own.buffer);
      this.push(own);
    }

    reuse(): void {
      for (const b of this.#pushed) b.fill(REUSED);
      this.#pushed = [];
    }

    pushedFrom(buffer: ArrayBufferLike): boolean {
      return this.#ever.has(buffer);
    }

    override _read(): void {}

    override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
      const p = this.peer;
      if (p !== undefined && !p.destroyed) p.receive(chunk);
      cb();
    }

    // net.Socket has a _writev of its own that needs a handle.
    override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
      const p = this.peer;
      if (p !== undefined && !p.destroyed) for (const c of chunks) p.receive(c.chunk);
      cb();
    }

    override _final(cb: (err?: Error | null) => void): void {
      const p = this.peer;
      if (p !== undefined && !p.destroyed) p.push(null);
      cb();
    }

    override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
      const p = this.peer;
      this.peer = undefined;
      if (p !== undefined) {
        p.peer = undefined;
        if (!p.destroyed) p.destroy();
      }
      cb(err);
      if (emitClose) process.nextTick(() => this.emit('close', err !== null));
    }
  };
}

const DuplexEnd = endClass(Duplex, false);
const SocketEnd = endClass(net.Socket, true);

/** Which class the ends are: a plain Duplex, or a net.Socket subclass. */
export type ReusingBase = 'duplex' | 'net.Socket subclass';

/** Two connected ends. */
export function reusingPair(base: ReusingBase): [ReusingEnd, ReusingEnd] {
  const End = base === 'duplex' ? DuplexEnd : SocketEnd;
  const a = new End();
  const b = new End();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/**
 * Where reusing connections find each other by address (a ByReferenceNetwork
 * whose pairs are reusing ones). `ends` holds every end handed out, so a test
 * can `reuseAll()` once everything sent was answered.
 */
export class ReusingNetwork {
  readonly ends: ReusingEnd[] = [];
  readonly #network: ByReferenceNetwork;

  constructor(base: ReusingBase) {
    const ends = this.ends;
    this.#network = new ByReferenceNetwork(() => {
      const pair = reusingPair(base);
      ends.push(...pair);
      return pair;
    });
  }

  /** A new layer listening at a fresh address of this network. */
  listen(): ByReferenceStreamLayer {
    return this.#network.listen();
  }

  /** Overwrites every Buffer any end pushed so far. */
  reuseAll(): void {
    for (const e of this.ends) e.reuse();
  }

  /** Whether `buffer` is memory one of the ends pushed. */
  pushedFrom(buffer: ArrayBufferLike): boolean {
    return this.ends.some((e) => e.pushedFrom(buffer));
  }
}
