/**
 * The raw baseline's client: the same request bytes our transport would
 * send, encoded once with MessageWriter and then written over and over, with
 * nothing but a one-byte ack coming back. No encoding, decoding or promise
 * per request: what's left is syscalls and the event loop, the ceiling any
 * Node transport over this socket can approach.
 */
import net from 'node:net';
import { RpcType, type AppendEntriesRequest } from '../src/commands.ts';
import { MessageWriter } from '../src/net/codec/encoder.ts';
import { encodePreamble, RawMode } from './raw-protocol.ts';
import type { LatencyRecorder, Timed } from './stats.ts';

/** The exact bytes (type byte + msgpack map) our NetworkTransport writes for `req`. */
export function encodeFrame(req: AppendEntriesRequest): Buffer {
  const w = new MessageWriter();
  w.writeRequest(RpcType.AppendEntries, req);
  return Buffer.from(w.take());
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
 * Sends `warmup + n` copies of `frame` with at most `window` unacknowledged;
 * window 1 is synchronous ping-pong. Times the last `n` acks; each latency
 * runs from the frame's write to its ack.
 */
export async function rawFrames(
  addr: string,
  frame: Buffer,
  window: number,
  warmup: number,
  n: number,
  lat: LatencyRecorder,
): Promise<Timed> {
  const socket = await connect(addr, encodePreamble(RawMode.Frames, frame.length));
  const total = warmup + n;
  const sentAt = new Float64Array(window);
  let sent = 0;
  let acked = 0;
  let t0 = 0;
  try {
    return await new Promise<Timed>((resolve, reject) => {
      const pump = (): void => {
        if (sent >= total || sent - acked >= window) return;
        socket.cork();
        while (sent < total && sent - acked < window) {
          sentAt[sent % window] = performance.now();
          socket.write(frame);
          sent++;
        }
        socket.uncork();
      };
      socket.on('data', (acks: Buffer) => {
        const now = performance.now();
        for (let i = 0; i < acks.length; i++) {
          if (acked >= warmup) lat.add(now - sentAt[acked % window]!);
          acked++;
          if (acked === warmup) t0 = now;
        }
        if (acked >= total) resolve({ n, seconds: (now - t0) / 1000 });
        else pump();
      });
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`raw server closed the connection after ${acked} of ${total} acks`)));
      if (warmup === 0) t0 = performance.now();
      pump();
    });
  } finally {
    socket.destroy();
  }
}

/**
 * Streams `total` bytes in `chunk`-sized writes, honouring back-pressure
 * exactly as a snapshot sender must, and resolves with MB/s once the server
 * has counted them all.
 */
export async function rawBulk(
  addr: string,
  total: number,
  chunk: Buffer,
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
      if (!socket.write(piece)) await Promise.race([new Promise<void>((resolve) => socket.once('drain', resolve)), acked]);
    }
    await acked;
    const seconds = (performance.now() - t0) / 1000;
    return { bytes: total, seconds, mbps: total / seconds / 1e6 };
  } finally {
    socket.destroy();
  }
}
