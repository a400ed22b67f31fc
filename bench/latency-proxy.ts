/**
 * A delaying TCP proxy: what a link between zones does to a Raft transport,
 * without the kernel's netem (not available on these machines). Runs in its
 * own process (a server-process.ts kind, spawned by children.ts), so its work
 * never shares an event loop with the client or the server it sits between.
 *
 * Every chunk read from one side is written to the other `delayMs` later, in
 * the order it arrived, per direction; a FIN follows the bytes before it.
 * Memory is bounded: a direction whose queued plus unwritten bytes pass
 * `maxQueuedBytes` stops reading its source (TCP back-pressure then reaches
 * the sender) until it has drained to half. The bound must exceed the
 * bandwidth-delay product the benchmark wants to see (window × request), or
 * the proxy becomes the bottleneck: the default 64 MiB covers 128 × 64 KiB
 * requests in flight.
 *
 * Timing: Node's timers fire on whole milliseconds, and late on a busy
 * machine, which would make a 0.5 ms delay 1–2 ms. So a worker thread sleeps
 * in Atomics.wait (a futex with a microsecond timeout, no spinning) until the
 * head of the queue is due and then wakes this thread; what remains is the
 * wake-up latency of a message between threads (tens of µs, more when the
 * machine is loaded). The benchmark measures the round trip it actually got
 * (see latency-bench.ts) instead of trusting the nominal delay.
 */
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import type { ServerStats } from './ipc.ts';

const MiB = 1024 * 1024;

/** A monotonic clock in ms shared by both threads (performance.now() has a per-thread origin). */
const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Chunks due within this many ms of now go out in the same batch: less than any wake-up costs. */
const SLACK_MS = 0.02;

/** The timer thread: waits (no spinning) until the armed time, then posts, then waits to be re-armed. */
const TIMER_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const ctl = new Int32Array(workerData, 0, 2); // [0] generation, bumped on every (re-)arm; [1] stop
const due = new Float64Array(workerData, 8, 1); // hr ms, 0 = nothing armed
const now = () => Number(process.hrtime.bigint()) / 1e6;
for (;;) {
  const gen = Atomics.load(ctl, 0);
  if (Atomics.load(ctl, 1) !== 0) break;
  const at = due[0];
  if (at === 0) { Atomics.wait(ctl, 0, gen); continue; }
  const left = at - now();
  if (left > 0) { Atomics.wait(ctl, 0, gen, left); continue; }
  parentPort.postMessage(0);
  Atomics.wait(ctl, 0, gen); // until the main thread handled it and re-armed
}
`;

/** Fires `onDue` on the main thread once the armed hr-clock time has passed, to within the wake-up latency. */
class PreciseTimer {
  private readonly shared = new SharedArrayBuffer(16);
  private readonly ctl = new Int32Array(this.shared, 0, 2);
  private readonly due = new Float64Array(this.shared, 8, 1);
  private readonly worker: Worker;
  wakeups = 0;

  constructor(onDue: () => void) {
    this.worker = new Worker(TIMER_WORKER, { eval: true, workerData: this.shared });
    this.worker.unref();
    this.worker.on('message', () => {
      this.wakeups++;
      onDue();
    });
  }

  /** Arms for `atMs` (hr clock), or disarms with 0; always releases a worker waiting for its re-arm. */
  arm(atMs: number): void {
    this.due[0] = atMs;
    Atomics.add(this.ctl, 0, 1);
    Atomics.notify(this.ctl, 0);
  }

  async close(): Promise<void> {
    Atomics.store(this.ctl, 1, 1);
    this.arm(0);
    await this.worker.terminate();
  }
}

/** One direction of one proxied connection. */
interface Lane {
  readonly src: net.Socket;
  readonly dst: net.Socket;
  /** Bytes read from src and not yet handed to dst. */
  queued: number;
  paused: boolean;
  dead: boolean;
}

/** A queued chunk; `buf` undefined is the source's FIN. */
interface Pending {
  due: number;
  lane: Lane;
  buf: Buffer | undefined;
}

export interface LatencyProxyOptions {
  /** host:port to forward to. */
  target: string;
  delayMs: number;
  maxQueuedBytes?: number;
}

export interface LatencyProxy {
  readonly addr: string;
  /** Applies to bytes read from now on; change it only while the link is idle, or order across the change is kept but the delay isn't. */
  setDelay(ms: number): void;
  stats(): ServerStats;
  close(): Promise<void>;
}

export async function startLatencyProxy(opts: LatencyProxyOptions): Promise<LatencyProxy> {
  const i = opts.target.lastIndexOf(':');
  const target = { host: opts.target.slice(0, i), port: Number(opts.target.slice(i + 1)) };
  const limit = opts.maxQueuedBytes ?? 64 * MiB;
  let delayMs = opts.delayMs;
  const counters = { connections: 0, bytesUp: 0, bytesDown: 0, maxLaneBytes: 0, wakeups: 0 };
  const errors: string[] = [];
  const sockets = new Set<net.Socket>();

  // The FIFO of every lane's chunks in arrival order: with one delay for all,
  // due times never decrease along it, so the head is always the next one due.
  let queue: Pending[] = [];
  let head = 0;
  let armedFor = 0;
  const timer = new PreciseTimer(() => deliver());

  const load = (lane: Lane): number => lane.queued + lane.dst.writableLength;
  const regulate = (lane: Lane): void => {
    const l = load(lane);
    if (l > counters.maxLaneBytes) counters.maxLaneBytes = l;
    if (!lane.paused && l > limit) {
      lane.paused = true;
      lane.src.pause();
    } else if (lane.paused && l <= limit / 2) {
      lane.paused = false;
      if (!lane.dead) lane.src.resume();
    }
  };

  const forward = (lane: Lane, buf: Buffer | undefined): void => {
    if (lane.dead) return;
    if (buf === undefined) lane.dst.end();
    else lane.dst.write(buf);
  };

  function arm(): void {
    const next = head < queue.length ? queue[head]!.due : 0;
    if (next !== armedFor) {
      armedFor = next;
      timer.arm(next);
    }
  }

  function deliver(): void {
    const now = hrMs() + SLACK_MS;
    const corked: Lane[] = [];
    while (head < queue.length && queue[head]!.due <= now) {
      const p = queue[head]!;
      queue[head++] = undefined as unknown as Pending;
      if (p.buf !== undefined) p.lane.queued -= p.buf.length;
      if (!p.lane.dead && p.buf !== undefined && !p.lane.dst.writableCorked) {
        p.lane.dst.cork();
        corked.push(p.lane);
      }
      forward(p.lane, p.buf);
    }
    for (const lane of corked) lane.dst.uncork();
    for (const lane of corked) regulate(lane);
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head > 4096 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    armedFor = -1; // the worker waits for a re-arm after every wake-up
    arm();
  }

  const enqueue = (lane: Lane, buf: Buffer | undefined): void => {
    if (delayMs <= 0 && head === queue.length) {
      forward(lane, buf);
    } else {
      if (buf !== undefined) lane.queued += buf.length;
      queue.push({ due: hrMs() + delayMs, lane, buf });
      if (queue.length - head === 1) arm();
    }
    regulate(lane);
  };

  const lane = (src: net.Socket, dst: net.Socket, count: 'bytesUp' | 'bytesDown'): Lane => {
    const l: Lane = { src, dst, queued: 0, paused: false, dead: false };
    src.on('data', (buf: Buffer) => {
      counters[count] += buf.length;
      enqueue(l, buf);
    });
    src.on('end', () => enqueue(l, undefined));
    dst.on('drain', () => regulate(l));
    return l;
  };

  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    counters.connections++;
    const upstream = net.connect({ ...target, noDelay: true, allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    const up = lane(client, upstream, 'bytesUp');
    const down = lane(upstream, client, 'bytesDown');
    const teardown = (err?: Error): void => {
      // A reset on either side ends the pair: a real link would carry the RST across too.
      if (err && !['ECONNRESET', 'EPIPE'].includes((err as NodeJS.ErrnoException).code ?? '') && errors.length < 20) {
        errors.push(`proxy: ${err.message}`);
      }
      up.dead = down.dead = true;
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', teardown);
      // A clean close needs nothing: each FIN was queued behind the bytes before it and forwarded in turn.
      s.on('close', (hadError) => {
        sockets.delete(s);
        if (hadError) teardown();
      });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    addr: `127.0.0.1:${port}`,
    setDelay(ms) {
      if (!(ms >= 0)) throw new Error(`bad delay ${ms}`);
      delayMs = ms;
    },
    stats: () => ({ ...counters, wakeups: timer.wakeups, delayMs, queued: queue.length - head, errors }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await timer.close();
    },
  };
}
