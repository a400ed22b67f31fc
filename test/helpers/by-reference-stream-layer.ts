/**
 * A StreamLayer over in-process duplex pairs that hand each written Buffer to
 * the other end by reference: no copy, and the write callback fires at once.
 * Whatever the writer does with that memory afterwards (reuse, overwrite) the
 * reader sees. TCP and TLS copy on write, so they hide aliasing bugs; this
 * layer exposes them, as any PassThrough-style StreamLayer would.
 */
import { Duplex } from 'node:stream';
import type { ServerAddress } from '../../src/commands.ts';
import { PeerUnreachableError, TransportShutdownError } from '../../src/errors.ts';
import { AsyncQueue } from '../../src/internal/async-queue.ts';
import type { StreamLayer } from '../../src/net/layers/stream-layer.ts';

/** One end of a by-reference pair. */
class ByReferenceEnd extends Duplex {
  peer: ByReferenceEnd | undefined;
  /** Where the other end dialled from, as net.Socket reports it (the transport's `rpc.remote`). */
  remoteAddress: string | undefined;
  remotePort: number | undefined;

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // The very Buffer object the writer passed: no copy.
    const p = this.peer;
    if (p !== undefined && !p.destroyed) p.push(chunk);
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
  }
}

/** An end of a connected pair, and where the other end dialled from (as net.Socket reports it). */
export type PairEnd = Duplex & { remoteAddress: string | undefined; remotePort: number | undefined };

/** Two connected ends, as a socketpair would give. */
let ephemeralPorts = 40000;

export function byReferencePair(): [ByReferenceEnd, ByReferenceEnd] {
  const a = new ByReferenceEnd();
  const b = new ByReferenceEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Where by-reference layers find each other by address. */
export class ByReferenceNetwork {
  readonly #layers = new Map<ServerAddress, ByReferenceStreamLayer>();
  #next = 1;
  /** @internal Makes the two ends of each connection (default: by-reference pairs). */
  readonly pair: () => [PairEnd, PairEnd];

  constructor(pair: () => [PairEnd, PairEnd] = byReferencePair) {
    this.pair = pair;
  }

  /** A new layer listening at a fresh address of this network. */
  listen(): ByReferenceStreamLayer {
    const addr = `ref-${this.#next++}:7000`;
    const layer = new ByReferenceStreamLayer(this, addr);
    this.#layers.set(addr, layer);
    return layer;
  }

  /** An address no layer will ever listen at. */
  unreachable(): ServerAddress {
    return `ref-unreachable-${this.#next++}:7000`;
  }

  /** @internal */
  lookup(addr: ServerAddress): ByReferenceStreamLayer | undefined {
    return this.#layers.get(addr);
  }

  /** @internal */
  remove(addr: ServerAddress): void {
    this.#layers.delete(addr);
  }
}

/** A StreamLayer of a ByReferenceNetwork. */
export class ByReferenceStreamLayer implements StreamLayer {
  readonly #network: ByReferenceNetwork;
  readonly #addr: ServerAddress;
  readonly #accepted = new AsyncQueue<Duplex>();
  /** Every end this layer handed out, so close() leaves nothing behind in tests. */
  readonly #ends = new Set<Duplex>();

  constructor(network: ByReferenceNetwork, addr: ServerAddress) {
    this.#network = network;
    this.#addr = addr;
  }

  async accept(): Promise<Duplex> {
    const r = await this.#accepted.next();
    if (r.done) throw new TransportShutdownError('by-reference layer closed');
    return r.value;
  }

  async dial(address: ServerAddress, _timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    signal?.throwIfAborted();
    const target = this.#network.lookup(address);
    const [local, remote] = this.#network.pair();
    // Each dial gets its own "ephemeral port", as a socket would.
    remote.remoteAddress = this.#addr.slice(0, this.#addr.lastIndexOf(':'));
    remote.remotePort = ++ephemeralPorts;
    if (target === undefined || !target.#offer(remote)) {
      throw new PeerUnreachableError(`failed to connect to ${address}: nothing listens there`);
    }
    this.#track(local);
    return local;
  }

  addr(): ServerAddress {
    return this.#addr;
  }

  async close(): Promise<void> {
    this.#network.remove(this.#addr);
    for (const s of this.#accepted.close(true)) s.destroy();
  }

  #offer(end: Duplex): boolean {
    if (this.#accepted.closed) return false;
    this.#track(end);
    return this.#accepted.push(end);
  }

  #track(end: Duplex): void {
    this.#ends.add(end);
    end.once('close', () => this.#ends.delete(end));
  }
}
