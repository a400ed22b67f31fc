import { Duplex } from 'node:stream';
import type { ServerAddress } from '../../commands.ts';
import { InvalidValueError, PeerUnreachableError, TransportShutdownError } from '../../errors.ts';
import { deriveSeed, SeededRandom } from '../../internal/prng.ts';
import type { StreamLayer } from './stream-layer.ts';

/** A uniform random delay, in ms, added to each chunk in each direction. */
export interface LatencyRange {
  minMs: number;
  maxMs: number;
}

/** A uniform random byte count, both ends inclusive. */
export interface ByteRange {
  min: number;
  max: number;
}

/**
 * The random faults a connection can suffer. Set on the network (defaults for
 * every layer) or on a layer (overrides field by field); a connection takes
 * the dialing layer's settings at dial time.
 */
export interface FaultConfig {
  /** Delay added to every chunk, both directions, keeping byte order. Only dialed connections are delayed, so a round trip pays it twice. */
  latency?: LatencyRange;
  /** Probability (0..1) that a dial fails with ERR_PEER_UNREACHABLE without touching the network. */
  dropDialRate?: number;
  /** Cut connections after this many bytes (both directions counted); the byte that crosses the budget never arrives. */
  cutAfterBytes?: ByteRange;
  /**
   * Probability (0..1) that a new connection is subject to `cutAfterBytes`
   * (default 1 when `cutAfterBytes` is set; with only `cutRate`, cut after 1 B..64 KiB).
   */
  cutRate?: number;
}

/** What the network did, in order; for logs and for asserting determinism. */
export type FaultEvent =
  | { type: 'dial-dropped'; from: string; to: string }
  | { type: 'dial-refused'; from: string; to: string }
  | { type: 'cut'; from: string; to: string; reason: 'partition' | 'manual' | 'bytes'; bytes?: number };

/** Network-wide seed and default faults. */
export interface FaultNetworkOptions extends FaultConfig {
  /**
   * Seed of every random choice (default: random; read it back from `seed`
   * and log it, so a failing run can be replayed).
   */
  seed?: number;
  /** Told of every injected fault, synchronously; must not throw. */
  onFault?: (event: FaultEvent) => void;
}

/** Options of one layer in a FaultNetwork. */
export interface FaultLayerOptions extends FaultConfig {
  /** The network to join (default: a private one, for latency/drop faults without partitions). */
  network?: FaultNetwork;
  /**
   * The name partitions refer to (default: the inner layer's advertised
   * address). An explicit name also keys this layer's random streams, so
   * they don't depend on ports or join order.
   */
  name?: string;
}

const DEFAULT_CUT_RANGE: ByteRange = { min: 1, max: 64 * 1024 };

interface TrackedConn {
  readonly from: string;
  readonly to: string;
  readonly socket: Duplex;
  readonly wrapper: FaultSocket | undefined;
  readonly closed: Promise<void>;
}

/**
 * The state behind a FaultNetwork and what its layers need from it; kept out
 * of the public class so users see only the switchboard.
 */
class Switch {
  readonly seed: number;
  defaults: FaultConfig;
  readonly blocked = new Set<string>();
  readonly isolated = new Set<string>();
  readonly conns = new Set<TrackedConn>();
  private readonly onFault: ((event: FaultEvent) => void) | undefined;
  private readonly names = new Map<string, FaultInjectionStreamLayer>();
  /** Every name a layer ever joined under: a closed node may be partitioned while it restarts. */
  private readonly known = new Set<string>();
  private readonly byAddr = new Map<ServerAddress, string>();
  private joined = 0;

  constructor(seed: number, defaults: FaultConfig, onFault: ((event: FaultEvent) => void) | undefined) {
    this.seed = seed;
    this.defaults = defaults;
    this.onFault = onFault;
  }

  /** Registers a layer; returns its join ordinal. */
  register(layer: FaultInjectionStreamLayer, address: ServerAddress): number {
    if (this.names.has(layer.name)) throw new InvalidValueError(`a layer named ${layer.name} already joined this FaultNetwork`);
    this.names.set(layer.name, layer);
    this.known.add(layer.name);
    this.byAddr.set(address, layer.name);
    return this.joined++;
  }

  /** Forgets a closed layer (its connections stay tracked until they close). */
  unregister(layer: FaultInjectionStreamLayer, address: ServerAddress): void {
    if (this.names.get(layer.name) === layer) this.names.delete(layer.name);
    if (this.byAddr.get(address) === layer.name) this.byAddr.delete(address);
  }

  /**
   * Throws for a name no layer ever joined under: a fault aimed at a typo (or
   * at a node id when layers are named by address) would otherwise do nothing
   * and let the test pass without the fault it meant to inject.
   */
  check(...names: string[]): void {
    for (const name of names) {
      if (this.known.has(name)) continue;
      const joined = [...this.known].join(', ') || 'none';
      throw new InvalidValueError(
        `no layer joined this FaultNetwork as "${name}" (joined: ${joined}); pass { name } to join() to name a layer`,
      );
    }
  }

  nameOf(address: ServerAddress): string {
    return this.byAddr.get(address) ?? address;
  }

  reachable(from: string, to: string): boolean {
    return !this.isolated.has(from) && !this.isolated.has(to) && !this.blocked.has(pairKey(from, to));
  }

  /** The effective faults for a layer's overrides. */
  resolve(overrides: FaultConfig): FaultConfig {
    return {
      latency: overrides.latency ?? this.defaults.latency,
      dropDialRate: overrides.dropDialRate ?? this.defaults.dropDialRate,
      cutAfterBytes: overrides.cutAfterBytes ?? this.defaults.cutAfterBytes,
      cutRate: overrides.cutRate ?? this.defaults.cutRate,
    };
  }

  emit(event: FaultEvent): void {
    try {
      this.onFault?.(event);
    } catch {
      // A listener's bug must not break the socket event that reported it.
    }
  }

  /** Tracks a dialed connection until it closes. */
  track(from: string, to: string, socket: Duplex, wrapper: FaultSocket | undefined): void {
    const outer = wrapper ?? socket;
    let conn!: TrackedConn;
    const closed = new Promise<void>((resolve) => {
      outer.once('close', () => {
        this.conns.delete(conn);
        resolve();
      });
    });
    conn = { from, to, socket, wrapper, closed };
    this.conns.add(conn);
  }

  cutWhere(match: (c: TrackedConn) => boolean, reason: 'partition' | 'manual'): Promise<void> {
    const closing: Array<Promise<void>> = [];
    for (const c of [...this.conns]) {
      if (!match(c)) continue;
      this.emit({ type: 'cut', from: c.from, to: c.to, reason });
      closing.push(c.closed);
      if (c.wrapper !== undefined) c.wrapper.cut();
      else c.socket.destroy();
    }
    return Promise.all(closing).then(() => undefined);
  }
}

const switches = new WeakMap<FaultNetwork, Switch>();

function switchOf(network: FaultNetwork): Switch {
  return switches.get(network) as Switch;
}

const between =
  (a: string, b: string) =>
  (c: TrackedConn): boolean =>
    (c.from === a && c.to === b) || (c.from === b && c.to === a);

/**
 * A simulated switch between FaultInjectionStreamLayers, so a test can cut
 * the cluster into pieces from one place (`partition`, `isolate`, `heal`) the
 * way a real network fails. Enforcement is on the dialing side: a layer
 * refuses to dial across a partition, and the connections it dialed across a
 * new partition are destroyed, which tears down the TCP connection for both
 * ends. Both ends must therefore be layers of the same network.
 *
 * Every random choice comes from `seed`, in per-layer streams, so the same
 * seed and the same operations give the same faults.
 */
export class FaultNetwork {
  /** The seed every random choice derives from; log it to replay a run. */
  readonly seed: number;

  constructor(options: FaultNetworkOptions = {}) {
    const { seed, onFault, ...defaults } = options;
    validate(defaults);
    this.seed = (seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
    switches.set(this, new Switch(this.seed, defaults, onFault));
  }

  /** Wraps `inner` in a layer on this network. */
  join(inner: StreamLayer, options: Omit<FaultLayerOptions, 'network'> = {}): FaultInjectionStreamLayer {
    return new FaultInjectionStreamLayer(inner, { ...options, network: this });
  }

  /** Replaces the network-wide fault defaults; applies to connections dialed from now on. */
  configure(faults: FaultConfig): void {
    validate(faults);
    switchOf(this).defaults = { ...faults };
  }

  /** Cuts `a` and `b` apart in both directions; resolves once their connections are closed. */
  async partition(a: string, b: string): Promise<void> {
    const sw = switchOf(this);
    sw.check(a, b);
    sw.blocked.add(pairKey(a, b));
    sw.blocked.add(pairKey(b, a));
    return sw.cutWhere(between(a, b), 'partition');
  }

  /**
   * One-way: `from` can no longer dial `to` (so its RPCs to `to` fail), while
   * `to` can still call `from` over connections it dials. Connections `from`
   * dialed to `to` are cut; resolves once they are closed.
   */
  async block(from: string, to: string): Promise<void> {
    const sw = switchOf(this);
    sw.check(from, to);
    sw.blocked.add(pairKey(from, to));
    return sw.cutWhere((c) => c.from === from && c.to === to, 'partition');
  }

  /** Cuts `a` off from every peer, present and future, both ways; resolves once its connections are closed. */
  async isolate(a: string): Promise<void> {
    const sw = switchOf(this);
    sw.check(a);
    sw.isolated.add(a);
    return sw.cutWhere((c) => c.from === a || c.to === a, 'partition');
  }

  /**
   * Lifts partitions: with no argument all of them; with `a`, its isolation
   * and every block involving it; with `a` and `b`, the blocks between the
   * two (an isolation of either stays). Async like the others, so every
   * fault call reads the same (`await network.heal()`); it resolves at once,
   * since healing closes nothing: the next dial goes through.
   */
  async heal(a?: string, b?: string): Promise<void> {
    const sw = switchOf(this);
    if (a !== undefined) sw.check(a);
    if (b !== undefined) sw.check(b);
    if (a === undefined) {
      sw.blocked.clear();
      sw.isolated.clear();
    } else if (b === undefined) {
      sw.isolated.delete(a);
      for (const key of [...sw.blocked]) {
        const [from, to] = splitKey(key);
        if (from === a || to === a) sw.blocked.delete(key);
      }
    } else {
      sw.blocked.delete(pairKey(a, b));
      sw.blocked.delete(pairKey(b, a));
    }
  }

  /** Destroys the connections between `a` and `b` (either dialed either way) without a partition: the next call redials. */
  async cut(a: string, b: string): Promise<void> {
    const sw = switchOf(this);
    sw.check(a, b);
    return sw.cutWhere(between(a, b), 'manual');
  }

  /** Destroys every connection dialed through this network. */
  cutAll(): Promise<void> {
    return switchOf(this).cutWhere(() => true, 'manual');
  }

  /** Whether `from` may dial `to` now. */
  reachable(from: string, to: string): boolean {
    const sw = switchOf(this);
    sw.check(from, to);
    return sw.reachable(from, to);
  }

  /** Open connections dialed through the network: all, those involving `a`, or those between `a` and `b`. */
  connectionCount(a?: string, b?: string): number {
    if (a !== undefined) switchOf(this).check(a);
    if (b !== undefined) switchOf(this).check(b);
    const match = a === undefined ? () => true : b === undefined ? (c: TrackedConn) => c.from === a || c.to === a : between(a, b);
    let n = 0;
    for (const c of switchOf(this).conns) if (match(c)) n++;
    return n;
  }

  /** The name a dial to `address` reaches: the joined layer advertising it, else the address itself. */
  nameOf(address: ServerAddress): string {
    return switchOf(this).nameOf(address);
  }
}

/**
 * A StreamLayer wrapper that injects network faults into any inner layer,
 * deterministically under a seed, for testing a Raft implementation against
 * partitions, slow links, refused dials and dropped connections with the real
 * NetworkTransport on top. With no fault configured, a dialed socket is the
 * inner layer's own, untouched (it is only tracked, so partitions can cut it).
 */
export class FaultInjectionStreamLayer implements StreamLayer {
  /** The name partitions refer to. */
  readonly name: string;
  /** The network this layer joined (a private one unless given). */
  readonly network: FaultNetwork;
  private readonly sw: Switch;
  private readonly inner: StreamLayer;
  private readonly address: ServerAddress;
  private readonly key: string;
  private readonly dialRandom: SeededRandom;
  private overrides: FaultConfig;
  private conns = 0;
  private closed = false;

  constructor(inner: StreamLayer, options: FaultLayerOptions = {}) {
    const { network, name, ...overrides } = options;
    validate(overrides);
    this.inner = inner;
    this.address = inner.addr();
    this.name = name ?? this.address;
    this.network = network ?? new FaultNetwork();
    this.overrides = overrides;
    this.sw = switchOf(this.network);
    const ordinal = this.sw.register(this, this.address);
    this.key = name !== undefined ? `name:${name}` : `join:${ordinal}`;
    this.dialRandom = new SeededRandom(deriveSeed(this.network.seed, this.key, 'dial'));
  }

  /** Replaces this layer's overrides of the network's faults; applies to connections dialed from now on. */
  configure(faults: FaultConfig): void {
    validate(faults);
    this.overrides = { ...faults };
  }

  accept(): Promise<Duplex> {
    return this.inner.accept();
  }

  async dial(address: ServerAddress, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    if (this.closed) throw new TransportShutdownError();
    const from = this.name;
    const to = this.sw.nameOf(address);
    const faults = this.sw.resolve(this.overrides);
    // Exactly one draw per dial, whatever happens next, so the sequence of
    // drops depends only on the sequence of dials.
    const drop = this.dialRandom.chance(faults.dropDialRate ?? 0);
    if (!this.sw.reachable(from, to)) {
      this.sw.emit({ type: 'dial-refused', from, to });
      throw new PeerUnreachableError(`cannot reach ${to} from ${from}: network partitioned (fault injection)`);
    }
    if (drop) {
      this.sw.emit({ type: 'dial-dropped', from, to });
      throw new PeerUnreachableError(`dial ${from} -> ${to} dropped (fault injection)`);
    }
    const socket = await this.inner.dial(address, timeoutMs, signal);
    if (this.closed) {
      socket.destroy();
      throw new TransportShutdownError();
    }
    if (!this.sw.reachable(from, to)) {
      socket.destroy();
      this.sw.emit({ type: 'dial-refused', from, to });
      throw new PeerUnreachableError(`cannot reach ${to} from ${from}: network partitioned (fault injection)`);
    }
    const n = this.conns++;
    const random = new SeededRandom(deriveSeed(this.network.seed, this.key, 'conn', n));
    const cutRate = faults.cutRate ?? (faults.cutAfterBytes !== undefined ? 1 : 0);
    let budget: number | undefined;
    if (cutRate > 0 && random.chance(cutRate)) {
      const range = faults.cutAfterBytes ?? DEFAULT_CUT_RANGE;
      budget = random.int(range.min, range.max);
    }
    if (faults.latency === undefined && budget === undefined) {
      this.sw.track(from, to, socket, undefined);
      return socket;
    }
    const wrapper = new FaultSocket(socket, {
      latency: faults.latency,
      budget,
      outRandom: new SeededRandom(deriveSeed(this.network.seed, this.key, 'conn', n, 'out')),
      inRandom: new SeededRandom(deriveSeed(this.network.seed, this.key, 'conn', n, 'in')),
      onBudgetCut: (bytes) => this.sw.emit({ type: 'cut', from, to, reason: 'bytes', bytes }),
    });
    this.sw.track(from, to, socket, wrapper);
    return wrapper;
  }

  addr(): ServerAddress {
    return this.address;
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.sw.unregister(this, this.address);
    }
    await this.inner.close();
  }
}

function pairKey(from: string, to: string): string {
  return `${from}\u0000${to}`;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
}

function validate(f: FaultConfig): void {
  const rate = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new InvalidValueError(`${name} must be within [0, 1], got ${v}`);
  };
  rate('dropDialRate', f.dropDialRate);
  rate('cutRate', f.cutRate);
  if (f.latency !== undefined && !(f.latency.minMs >= 0 && f.latency.maxMs >= f.latency.minMs)) {
    throw new InvalidValueError(`latency needs 0 <= minMs <= maxMs, got ${JSON.stringify(f.latency)}`);
  }
  if (f.cutAfterBytes !== undefined && !(f.cutAfterBytes.min >= 0 && f.cutAfterBytes.max >= f.cutAfterBytes.min)) {
    throw new InvalidValueError(`cutAfterBytes needs 0 <= min <= max, got ${JSON.stringify(f.cutAfterBytes)}`);
  }
}

const END: unique symbol = Symbol('end');
const CUT: unique symbol = Symbol('cut');
type Item = Buffer | typeof END | typeof CUT;

/**
 * A FIFO that releases each item after a random delay without reordering:
 * an item is never due before the one ahead of it. One timer per line.
 */
class DelayLine {
  /** Bytes waiting in the line. */
  bytes = 0;
  private readonly items: Array<{ at: number; item: Item }> = [];
  private readonly random: SeededRandom;
  private readonly latency: LatencyRange | undefined;
  private readonly deliver: (item: Item) => void;
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private stopped = false;

  constructor(random: SeededRandom, latency: LatencyRange | undefined, deliver: (item: Item) => void) {
    this.random = random;
    this.latency = latency;
    this.deliver = deliver;
  }

  push(item: Item): void {
    if (this.stopped) return;
    if (this.latency === undefined) {
      this.deliver(item);
      return;
    }
    const now = performance.now();
    const at = Math.max(now + this.random.between(this.latency.minMs, this.latency.maxMs), this.last);
    this.last = at;
    if (this.items.length === 0 && at <= now) {
      this.deliver(item);
      return;
    }
    this.items.push({ at, item });
    if (Buffer.isBuffer(item)) this.bytes += item.length;
    this.schedule();
  }

  /** Drops whatever is waiting and the timer; idempotent. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.items.length = 0;
    this.bytes = 0;
  }

  private schedule(): void {
    const head = this.items[0];
    if (this.timer !== undefined || head === undefined || this.stopped) return;
    this.timer = setTimeout(this.flush, Math.max(0, head.at - performance.now()));
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    // Timers have millisecond granularity and may fire a fraction early.
    const now = performance.now() + 1;
    for (let head = this.items[0]; head !== undefined && head.at <= now; head = this.items[0]) {
      this.items.shift();
      if (Buffer.isBuffer(head.item)) this.bytes -= head.item.length;
      this.deliver(head.item);
      if (this.stopped) return;
    }
    this.schedule();
  };
}

interface FaultSocketOptions {
  latency: LatencyRange | undefined;
  budget: number | undefined;
  outRandom: SeededRandom;
  inRandom: SeededRandom;
  onBudgetCut: (bytes: number) => void;
}

/**
 * The Duplex handed out when a dialed connection has faults: bytes pass
 * through a delay line each way and count against the cut budget. End,
 * destroy, errors and back-pressure behave as on the inner socket; 'close'
 * comes only after the inner socket closed, so closing it releases the
 * handle before anyone waiting on 'close' continues.
 */
class FaultSocket extends Duplex {
  private readonly inner: Duplex;
  private readonly out: DelayLine;
  private readonly in: DelayLine;
  private readonly onBudgetCut: (bytes: number) => void;
  private readonly budgetTotal: number | undefined;
  private budget: number | undefined;
  private doomed = false;
  private innerEnded = false;
  private innerClosed = false;
  private pendingWrite: ((err?: Error | null) => void) | undefined;
  private pendingFinal: ((err?: Error | null) => void) | undefined;

  constructor(inner: Duplex, opts: FaultSocketOptions) {
    super({ allowHalfOpen: false });
    this.inner = inner;
    this.budget = opts.budget;
    this.budgetTotal = opts.budget;
    this.onBudgetCut = opts.onBudgetCut;
    this.out = new DelayLine(opts.outRandom, opts.latency, (item) => this.deliverOut(item));
    this.in = new DelayLine(opts.inRandom, opts.latency, (item) => this.deliverIn(item));
    inner.on('data', (chunk: Buffer) => {
      if (this.doomed) return;
      this.enqueue(this.in, chunk);
    });
    inner.on('end', () => {
      this.innerEnded = true;
      this.in.push(END);
    });
    inner.on('drain', () => this.releaseWrite());
    inner.on('error', (err: Error) => this.destroy(err));
    inner.on('close', () => {
      this.innerClosed = true;
      // After a clean end the END marker is still on its way through the
      // delay line; the wrapper then closes by itself once both sides are done.
      if (!this.innerEnded) this.destroy();
      else this.releaseWrite();
    });
  }

  get remoteAddress(): string | undefined {
    return (this.inner as Duplex & { remoteAddress?: string }).remoteAddress;
  }

  get remotePort(): number | undefined {
    return (this.inner as Duplex & { remotePort?: number }).remotePort;
  }

  /** Tears the connection down at once, as a network failure would; queued bytes are lost. */
  cut(): void {
    this.doomed = true;
    this.out.stop();
    this.in.stop();
    this.inner.destroy();
    this.destroy();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.doomed) {
      callback();
      return;
    }
    this.enqueue(this.out, chunk);
    if (this.backlog() <= this.writableHighWaterMark) callback();
    else this.pendingWrite = callback;
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.doomed) {
      callback();
      return;
    }
    this.pendingFinal = callback;
    this.out.push(END);
  }

  override _read(): void {
    if (this.inner.isPaused()) this.inner.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.doomed = true;
    this.out.stop();
    this.in.stop();
    this.pendingWrite = undefined;
    this.pendingFinal = undefined;
    if (this.innerClosed) {
      callback(err);
      return;
    }
    this.inner.once('close', () => callback(err));
    this.inner.destroy();
  }

  /** Passes `chunk` on, cut short at the byte budget. */
  private enqueue(line: DelayLine, chunk: Buffer): void {
    if (this.budget === undefined) {
      line.push(chunk);
      return;
    }
    if (chunk.length < this.budget) {
      this.budget -= chunk.length;
      line.push(chunk);
      return;
    }
    const head = chunk.subarray(0, this.budget);
    this.budget = 0;
    this.doomed = true;
    if (head.length > 0) line.push(head);
    line.push(CUT);
  }

  private deliverOut(item: Item): void {
    if (item === CUT) {
      this.budgetCut();
    } else if (item === END) {
      if (!this.inner.destroyed && !this.inner.writableEnded) this.inner.end();
      const cb = this.pendingFinal;
      this.pendingFinal = undefined;
      cb?.();
    } else {
      if (!this.inner.destroyed && !this.inner.writableEnded) this.inner.write(item);
      this.releaseWrite();
    }
  }

  private deliverIn(item: Item): void {
    if (item === CUT) {
      this.budgetCut();
    } else if (item === END) {
      this.push(null);
    } else if (!this.push(item)) {
      this.inner.pause();
    }
  }

  private budgetCut(): void {
    this.onBudgetCut(this.budgetTotal ?? 0);
    this.cut();
  }

  /** Bytes written to us and not yet taken by the network: what back-pressure bounds. */
  private backlog(): number {
    return this.out.bytes + this.inner.writableLength;
  }

  private releaseWrite(): void {
    const cb = this.pendingWrite;
    // Bytes for a socket that is gone are dropped: don't hold the writer on them.
    if (cb === undefined || (!this.inner.destroyed && this.backlog() > this.writableHighWaterMark)) return;
    this.pendingWrite = undefined;
    cb();
  }
}
