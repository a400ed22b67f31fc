/**
 * The benchmark's delaying proxy (bench/latency-proxy.ts) and the raw
 * baseline's ring framing: their numbers are only worth something if they
 * move every byte in order, hold back no byte for less than the delay, keep
 * memory bounded, and count variable-length frames right.
 */
import { getEventListeners } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startLatencyProxy, type LatencyProxy } from '../../bench/latency-proxy.ts';
import { FrameRing, rawFrames, rawFramesUntil, rawPaced } from '../../bench/raw-client.ts';
import { startRawServer, type RawServer } from '../../bench/raw-server.ts';
import { LatencyRecorder } from '../../bench/stats.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** An echo server on 127.0.0.1 that records what it received. */
async function echoServer(): Promise<{ addr: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    addr: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function proxyTo(target: string, delayMs: number, maxQueuedBytes?: number): Promise<LatencyProxy> {
  const p = await startLatencyProxy({ target, delayMs, ...(maxQueuedBytes ? { maxQueuedBytes } : {}) });
  cleanup.push(() => p.close());
  return p;
}

function connect(addr: string): Promise<net.Socket> {
  const i = addr.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)) }, () => resolve(s));
    s.once('error', reject);
    cleanup.push(() => void s.destroy());
  });
}

/** Writes `data` in `piece`-sized writes, then FIN; resolves with everything echoed back until the echo's FIN. */
async function roundTrip(addr: string, data: Buffer, piece: number): Promise<Buffer> {
  const s = await connect(addr);
  const got: Buffer[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    s.on('data', (b: Buffer) => got.push(b));
    s.once('end', () => resolve());
    s.once('error', reject);
  });
  for (let at = 0; at < data.length; at += piece) {
    if (!s.write(data.subarray(at, at + piece))) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  await ended;
  return Buffer.concat(got);
}

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >>> 8)) & 0xff;
  return b;
}

describe('latency proxy', () => {
  it('carries every byte both ways in order, and the FIN after them', async () => {
    const echo = await echoServer();
    cleanup.push(echo.close);
    for (const delay of [0, 1]) {
      const proxy = await proxyTo(echo.addr, delay);
      const data = pattern(3 * 1024 * 1024 + 17);
      const back = await roundTrip(proxy.addr, data, 65_521);
      expect(back.equals(data)).toBe(true);
      expect(proxy.stats().errors).toEqual([]);
    }
  });

  it('holds bytes back for at least the delay in each direction', async () => {
    const echo = await echoServer();
    cleanup.push(echo.close);
    const proxy = await proxyTo(echo.addr, 20);
    const s = await connect(proxy.addr);
    const t0 = performance.now();
    s.write('ping');
    await new Promise((r) => s.once('data', r));
    // Two passes through the proxy: never sooner than twice the one-way delay.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(39.9);
  });

  it('stops reading a source whose queue passes the bound, so memory stays bounded', async () => {
    // A server that never reads: what the client sends piles up in the proxy until it stops reading.
    const held = new Set<net.Socket>();
    const stalled = net.createServer({ pauseOnConnect: true }, (c) => held.add(c));
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', () => resolve()));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          // A paused socket never reads the peer's FIN: close it here.
          for (const c of held) c.destroy();
          stalled.close(() => resolve());
        }),
    );
    const { port } = stalled.address() as net.AddressInfo;
    const bound = 1024 * 1024;
    const proxy = await proxyTo(`127.0.0.1:${port}`, 1, bound);
    const s = await connect(proxy.addr);
    // Far more than the bound and every kernel buffer on the way; the rest waits in the client's own buffer.
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 512; i++) s.write(chunk);
    await vi.waitFor(() => expect(Number(proxy.stats().maxLaneBytes)).toBeGreaterThan(bound), { timeout: 20_000 });
    // The client still holds most of its 32 MiB: the proxy stopped reading instead of buffering it.
    expect(s.writableLength).toBeGreaterThan(16 * 1024 * 1024);
    // At most one socket read (64 KiB) past the bound, however much the client has left to send.
    expect(Number(proxy.stats().maxLaneBytes)).toBeLessThanOrEqual(bound + 64 * 1024);
    s.destroy();
  });
});

describe('raw baseline ring framing', () => {
  let raw: RawServer | undefined;
  afterEach(async () => {
    await raw?.close();
    raw = undefined;
  });

  it('counts frames of different lengths across trials that continue through the ring', async () => {
    raw = await startRawServer();
    // The server never decodes: frames of any bytes and lengths, as a ring's requests have.
    const ring = new FrameRing(Array.from({ length: 300 }, (_, i) => Buffer.alloc(1 + ((i * 37) % 500), i)));
    const lat = new LatencyRecorder(2000);
    const a = await rawFrames(raw.addr, ring, 8, 10, 250, lat);
    const b = await rawFrames(raw.addr, ring, 1, 5, 100, lat);
    expect(a.n + b.n).toBe(350);
    expect(lat.size).toBe(350);
    expect(a.seconds).toBeGreaterThan(0);
    expect(b.seconds).toBeGreaterThan(0);
    expect(ring.position).toBe((10 + 250 + 5 + 100) % 300);
    expect(raw.stats().frames).toBe(365);
    expect(raw.stats().errors).toEqual([]);
  });

  it('keeps a window full until stopped, then drains every frame it sent', async () => {
    raw = await startRawServer();
    const ring = new FrameRing(Array.from({ length: 7 }, (_, i) => Buffer.alloc(100 + i * 300, i)));
    const stop = new AbortController();
    let acks = 0;
    const done = rawFramesUntil(raw.addr, ring, 16, stop.signal, () => {
      if (++acks === 500) stop.abort();
    });
    await done;
    // Acks arrive in batches, so more than 500 may have been sent; every one sent was acked and counted.
    expect(acks).toBeGreaterThanOrEqual(500);
    expect(raw.stats().frames).toBe(acks);
    expect(ring.position).toBe(acks % 7);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });

  it('sends nothing and resolves when stopped before it started', async () => {
    raw = await startRawServer();
    const ring = new FrameRing([Buffer.alloc(10)]);
    let acks = 0;
    await rawFramesUntil(raw.addr, ring, 16, AbortSignal.abort(), () => acks++);
    expect(acks).toBe(0);
    expect(raw.stats().frames).toBe(0);
  });

  it('paces ping-pongs of one frame, one latency each', async () => {
    raw = await startRawServer();
    const lat = new LatencyRecorder(100);
    await rawPaced(raw.addr, Buffer.alloc(40, 9), 25, 0, lat);
    expect(lat.size).toBe(25);
    expect(raw.stats().frames).toBe(25);
    expect(raw.stats().errors).toEqual([]);
  });

  it('rejects paced ping-pongs when the server closes mid-series', async () => {
    const frame = Buffer.alloc(40, 9);
    // Reads the 16-byte preamble, acks the first frame, and closes on the second.
    const server = net.createServer((s) => {
      let seen = 0;
      s.on('data', (chunk) => {
        seen += chunk.length;
        if (seen >= 16 + 2 * frame.length) s.destroy();
        else if (seen >= 16 + frame.length) s.write(Buffer.of(1));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as net.AddressInfo;
    const lat = new LatencyRecorder(10);
    await expect(rawPaced(`127.0.0.1:${port}`, frame, 5, 0, lat)).rejects.toThrow(/closed the heartbeat connection/);
    expect(lat.size).toBe(1);
  });
});
