/**
 * The raw baseline's client: the same request bytes our transport would
 * send for each request of a workload's ring, encoded before anything is
 * timed and then written in ring order, with nothing but a one-byte ack
 * coming back. No encoding, decoding or promise
 * per request: what's left is syscalls and the event loop, the ceiling any
 * Node transport over this socket can approach.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { RpcType, type AppendEntriesRequest } from '../src/commands.ts';
import { MessageWriter } from '../src/net/codec/encoder.ts';
import { encodeFramesPreamble, encodePreamble, RawMode } from './raw-protocol.ts';
import type { LatencyRecorder, Timed } from './stats.ts';
import type { Workload } from './workloads.ts';

/** The exact bytes (type byte + msgpack map) our NetworkTransport writes for `req`. */
export function encodeFrame(req: AppendEntriesRequest): Buffer {
  const w = new MessageWriter();
  w.writeRequest(RpcType.AppendEntries, req);
  return Buffer.from(w.take());
}

/** A workload's ring as pre-encoded frames, and where the next trial starts in it. */
export class FrameRing {
  /** Index of the frame the next trial sends first. */
  position = 0;
  readonly bytes: number;
  constructor(readonly frames: readonly Buffer[]) {
    this.bytes = frames.reduce((n, f) => n + f.length, 0);
  }

  /** Frame lengths in the order a trial starting at `position` sends them. */
  lengths(): number[] {
    const n = this.frames.length;
    return Array.from({ length: n }, (_, i) => this.frames[(this.position + i) % n]!.length);
  }
}

/** Encodes every request of `w`'s ring (before the timed section). */
export function encodeRing(w: Workload): FrameRing {
  return new FrameRing(w.ring.map(encodeFrame));
}

function connect(addr: string, preamble: Buffer): Promise<net.Socket> {
  const i = addr.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)), noDelay: true }, () => {
      socket.off('error', reject);
      socket.write(preamble);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Sends frames of `ring` in ring order from its position with at most
 * `window` unacknowledged (window 1 is synchronous ping-pong) while
 * `more(sent)` allows, and resolves once every frame sent is acknowledged.
 * `onAck` gets each ack's time and its frame's write time. `stop` is for a
 * `more` that turns false with it: nothing new is sent once it fires, and the
 * promise resolves as soon as the frames in flight are acknowledged (at once
 * if none are, or if it fired before the first write).
 */
function pumpFrames(
  socket: net.Socket,
  ring: FrameRing,
  window: number,
  more: (sent: number) => boolean,
  onAck: (acked: number, now: number, sentAt: number) => void,
  stop?: AbortSignal,
): Promise<void> {
  const frames = ring.frames;
  const sentAt = new Float64Array(window);
  let sent = 0;
  let acked = 0;
  return new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      if (!more(sent) || sent - acked >= window) return;
      socket.cork();
      while (more(sent) && sent - acked < window) {
        sentAt[sent % window] = performance.now();
        socket.write(frames[ring.position]!);
        ring.position = ring.position + 1 === frames.length ? 0 : ring.position + 1;
        sent++;
      }
      socket.uncork();
    };
    const settle = (err?: Error): void => {
      stop?.removeEventListener('abort', onStop);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onStop = (): void => {
      if (acked === sent) settle();
    };
    stop?.addEventListener('abort', onStop, { once: true });
    socket.on('data', (acks: Buffer) => {
      const now = performance.now();
      for (let i = 0; i < acks.length; i++) {
        onAck(acked, now, sentAt[acked % window]!);
        acked++;
      }
      if (acked === sent && !more(sent)) settle();
      else pump();
    });
    socket.on('error', settle);
    socket.once('close', () => settle(new Error(`raw server closed the connection after ${acked} of ${sent} acks`)));
    pump();
    if (stop?.aborted) onStop();
  });
}

/**
 * Sends `warmup + n` frames of `ring` in ring order with at most `window`
 * unacknowledged; window 1 is synchronous ping-pong. Times the last `n` acks;
 * each latency runs from the frame's write to its ack.
 */
export async function rawFrames(
  addr: string,
  ring: FrameRing,
  window: number,
  warmup: number,
  n: number,
  lat: LatencyRecorder,
): Promise<Timed> {
  const socket = await connect(addr, encodeFramesPreamble(ring.lengths()));
  const total = warmup + n;
  let t0 = warmup === 0 ? performance.now() : 0;
  let t1 = t0;
  try {
    await pumpFrames(
      socket,
      ring,
      window,
      (sent) => sent < total,
      (acked, now, sentAt) => {
        if (acked >= warmup) lat.add(now - sentAt);
        if (acked + 1 === warmup) t0 = now;
        t1 = now;
      },
    );
    return { n, seconds: (t1 - t0) / 1000 };
  } finally {
    socket.destroy();
  }
}

/**
 * Keeps `window` frames of `ring` in flight until `stop` fires, then lets
 * them drain: the raw counterpart of a saturating pipeline. `onAck` gets
 * each frame's round trip in ms.
 */
export async function rawFramesUntil(
  addr: string,
  ring: FrameRing,
  window: number,
  stop: AbortSignal,
  onAck: (ms: number) => void,
): Promise<void> {
  const socket = await connect(addr, encodeFramesPreamble(ring.lengths()));
  try {
    await pumpFrames(
      socket,
      ring,
      window,
      () => !stop.aborted,
      (_, now, sentAt) => onAck(now - sentAt),
      stop,
    );
  } finally {
    socket.destroy();
  }
}

/**
 * `n` ping-pongs of one pre-encoded frame, each awaited and then followed by
 * about `intervalMs` of quiet: the raw counterpart of a leader's heartbeats.
 */
export async function rawPaced(addr: string, frame: Buffer, n: number, intervalMs: number, lat: LatencyRecorder): Promise<void> {
  const socket = await connect(addr, encodeFramesPreamble([frame.length]));
  try {
    let resolveAck: ((now: number) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      socket.on('error', reject);
      socket.once('close', () => reject(new Error('raw server closed the heartbeat connection')));
    });
    failed.catch(() => {}); // raced below; this only keeps a late close from counting as unhandled
    socket.on('data', () => resolveAck?.(performance.now()));
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const ack = new Promise<number>((resolve) => (resolveAck = resolve));
      socket.write(frame);
      lat.add((await Promise.race([ack, failed])) - t);
      await sleep(intervalMs);
    }
  } finally {
    socket.destroy();
  }
}

/**
 * Streams `total` bytes in `chunk`-sized writes, honouring back-pressure
 * exactly as a snapshot sender must, and resolves with MB/s once the server
 * has counted them all. `onBytes` hears of each write, for rates over a window.
 */
export async function rawBulk(
  addr: string,
  total: number,
  chunk: Buffer,
  onBytes?: (n: number) => void,
): Promise<{ bytes: number; seconds: number; mbps: number }> {
  const socket = await connect(addr, encodePreamble(RawMode.Bulk, total));
  try {
    const acked = new Promise<void>((resolve, reject) => {
      socket.once('data', () => resolve());
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('raw server closed the connection mid-bulk')));
    });
    acked.catch(() => {}); // observed below; this only keeps an early failure from counting as unhandled
    const t0 = performance.now();
    for (let sent = 0; sent < total; ) {
      const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
      sent += piece.length;
      onBytes?.(piece.length);
      if (!socket.write(piece)) await Promise.race([new Promise<void>((resolve) => socket.once('drain', resolve)), acked]);
    }
    await acked;
    const seconds = (performance.now() - t0) / 1000;
    return { bytes: total, seconds, mbps: total / seconds / 1e6 };
  } finally {
    socket.destroy();
  }
}
