/**
 * The client side of NetworkTransport where a Raft leader leans on it:
 * snapshots whose calls fail before or while streaming, deadlines longer than
 * a Node timer, shutdown during dial backoff, peers that come and go, and the
 * peer encoding. Regression tests for issue 9 (defects 5, 6, 12 and mends).
 */
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RpcType } from '../../src/commands.ts';
import { ErrorCode, isTransportError, PeerUnreachableError } from '../../src/errors.ts';
import { MAX_TIMER_MS, PendingCall } from '../../src/internal/pending-call.ts';
import { BACKOFF_PEERS_KEPT, DialBackoff } from '../../src/net/conn/dial-backoff.ts';
import type { StreamLayer } from '../../src/net/layers/stream-layer.ts';
import { TCPDialer } from '../../src/net/layers/tcp-stream-layer.ts';
import { NetworkTransport } from '../../src/net/network-transport.ts';
import { newTCPTransport, type TCPTransportOptions } from '../../src/net/tcp-transport.ts';
import type { ByteSource, RequestVoteRPC, RPC } from '../../src/transport.ts';
import { closedPort, rejection } from '../helpers/expect-errors.ts';
import { serve, snapshotReq, voteReq } from '../helpers/fixtures.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function transport(opts: TCPTransportOptions = {}): Promise<NetworkTransport> {
  const t = await newTCPTransport('127.0.0.1:0', { timeout: 5_000, ...opts });
  cleanup.push(() => t.close());
  return t;
}

/**
 * A follower whose consumer takes RPCs and does `handler` (default: nothing,
 * never answering). Snapshot readers it holds get an error listener: an
 * unread reader erroring on close is issue 9's defect 14, not these tests'.
 */
async function follower(handler: (rpc: RPC) => void = () => {}): Promise<NetworkTransport> {
  const t = await transport();
  void serve(t, (rpc) => {
    if (rpc.type === RpcType.InstallSnapshot) rpc.reader.on('error', () => {});
    handler(rpc);
  });
  return t;
}

/** A stream that yields `chunk`-sized bytes on demand, for ever, and records whether it was destroyed. */
function endless(chunk = 64 * 1024): Readable {
  return new Readable({
    read() {
      this.push(Buffer.alloc(chunk));
    },
  });
}

/** An iterator (not a stream) whose return() the test can observe. */
function trackedIterator(): AsyncIterableIterator<Uint8Array> & { returned: boolean } {
  const it = {
    returned: false,
    next: () => Promise.resolve({ done: false as const, value: new Uint8Array(1024) }),
    return: () => {
      it.returned = true;
      return Promise.resolve({ done: true as const, value: undefined });
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}

/** Dials over TCP, except that addresses starting with "gone-" are refused at once: peers gone for good. */
class ChurnLayer implements StreamLayer {
  private readonly tcp = new TCPDialer('churn');
  accept(): Promise<Duplex> {
    return this.tcp.accept();
  }
  dial(address: string, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    if (address.startsWith('gone-')) return Promise.reject(new PeerUnreachableError(`connection to ${address} refused`));
    return this.tcp.dial(address, timeoutMs, signal);
  }
  addr(): string {
    return this.tcp.addr();
  }
  close(): Promise<void> {
    return this.tcp.close();
  }
}

describe('installSnapshot', () => {
  it('rejects an unencodable request at once with ERR_INVALID_VALUE, even without a timeout, and finishes the data', async () => {
    const b = await follower();
    const a = await transport();
    const data = endless();
    const err = await rejection(a.installSnapshot('b', b.localAddr(), snapshotReq(1024, { term: -1 }), data, { timeout: 0 }));
    expect(isTransportError(err, ErrorCode.InvalidValue), String(err)).toBe(true);
    expect(data.destroyed).toBe(true);
    expect(a.stats().peers[0]).toMatchObject({ inFlight: 0, rpcsFailed: 1 });
  });

  it('honours a deadline beyond the 2^31-1 ms timer limit: no instant timeout, no TimeoutOverflowWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    cleanup.push(() => void process.off('warning', onWarning));
    const b = await follower(); // takes the snapshot, never reads or answers it
    const a = await transport({ timeout: 10_000 });
    // 60 GiB at the default scale: 10 s per 256 KiB, about 29 days.
    const size = 60 * 1024 ** 3;
    let settled = false;
    const data = endless();
    const outcome = rejection(
      a.installSnapshot('b', b.localAddr(), snapshotReq(size), data).finally(() => {
        settled = true;
      }),
    );
    // A clamped timer would have fired after 1 ms; this one is armed later and runs after it.
    await sleep(20);
    expect(settled).toBe(false);
    await a.close();
    expect(isTransportError(await outcome, ErrorCode.TransportShutdown)).toBe(true);
    expect(data.destroyed).toBe(true);
    expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
  });

  it('finishes the data when the call fails before streaming: dial refused (a stream and an iterator)', async () => {
    const a = await transport();
    const gone = await closedPort();
    const stream = endless();
    const it = trackedIterator();
    for (const data of [stream, it] as ByteSource[]) {
      const err = await rejection(a.installSnapshot('x', gone, snapshotReq(1024 * 1024), data));
      expect(isTransportError(err), String(err)).toBe(true);
    }
    expect(stream.destroyed).toBe(true);
    expect(it.returned).toBe(true);
  });

  it('finishes the data when the call times out while streaming', async () => {
    const b = await follower(); // never reads the snapshot: back-pressure stalls the stream
    const a = await transport();
    const data = endless();
    const err = await rejection(a.installSnapshot('b', b.localAddr(), snapshotReq(1024 ** 3), data, { timeout: 200 }));
    expect(isTransportError(err, ErrorCode.RpcTimeout), String(err)).toBe(true);
    expect(data.destroyed).toBe(true);
  });

  it('finishes the data when the transport is already closed', async () => {
    const a = await transport();
    await a.close();
    const data = endless();
    expect(isTransportError(await rejection(a.installSnapshot('b', 'x:1', snapshotReq(10), data)))).toBe(true);
    expect(data.destroyed).toBe(true);
  });

  it("reports the data source's own error as ERR_SNAPSHOT_SOURCE with the original as cause", async () => {
    const b = await follower();
    const a = await transport();
    const disk = new Error('EIO: disk read failed');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(4096);
      throw disk;
    }
    const err = await rejection(a.installSnapshot('b', b.localAddr(), snapshotReq(1024 * 1024), failing()));
    expect(isTransportError(err, ErrorCode.SnapshotSource), String(err)).toBe(true);
    expect((err as Error).cause).toBe(disk);
    expect((err as Error).message).toMatch(/EIO: disk read failed/);
  });
});

describe('long deadlines (PendingCall)', () => {
  it('chains timers past 2^31-1 ms and fires only at the end; 0 still means no timeout', () => {
    vi.useFakeTimers();
    const long = new PendingCall<void>('long').arm(MAX_TIMER_MS + 10_000);
    const none = new PendingCall<void>('none').arm(0);
    long.promise.catch(() => {});
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(long.settled).toBe(false);
    vi.advanceTimersByTime(9_999);
    expect(long.settled).toBe(false);
    vi.advanceTimersByTime(1);
    expect(long.settled).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(none.settled).toBe(false);
    none.resolve();
  });
});

describe('dial backoff', () => {
  it('close() during a backoff pause rejects the waiting call with ERR_TRANSPORT_SHUTDOWN', async () => {
    const gone = await closedPort();
    const a = await transport({ timeout: 60_000, dialBackoff: { baseMs: 10_000, maxMs: 10_000 } });
    expect(isTransportError(await rejection(a.requestVote('x', gone, voteReq())), ErrorCode.PeerUnreachable)).toBe(true);
    const waiting = rejection(a.requestVote('x', gone, voteReq())); // now pausing 5-10 s before its dial
    const pipeline = rejection(a.appendEntriesPipeline('x', gone));
    await a.close();
    const errs = await Promise.all([waiting, pipeline]);
    for (const err of errs) expect(isTransportError(err, ErrorCode.TransportShutdown), String(err)).toBe(true);
  });

  it('remembers failures of a bounded number of peers', () => {
    const b = new DialBackoff({ baseMs: 1_000 });
    for (let i = 0; i < 4 * BACKOFF_PEERS_KEPT; i++) b.failed(`peer-${i}:1`);
    expect(b.size).toBe(BACKOFF_PEERS_KEPT);
    // The most recent failures are the ones kept.
    expect(b.delay(`peer-${4 * BACKOFF_PEERS_KEPT - 1}:1`)).toBeGreaterThan(0);
    expect(b.delay('peer-0:1')).toBe(0);
  });
});

describe('bookkeeping of peers that come and go', () => {
  it('per-peer stats forget idle departed peers but keep the live ones', async () => {
    const b = await follower((rpc) =>
      (rpc as RequestVoteRPC).respond({ rpcHeader: { protocolVersion: 3 }, term: 1, granted: false }),
    );
    const a = new NetworkTransport(new ChurnLayer(), { timeout: 5_000 });
    cleanup.push(() => a.close());
    // An answered call keeps the connection pooled: b stays live throughout.
    expect((await a.requestVote('b', b.localAddr(), voteReq())).granted).toBe(false);
    for (let i = 0; i < 300; i++) await rejection(a.requestVote(`p${i}`, `gone-${i}:1`, voteReq()));
    const peers = a.stats().peers.map((p) => p.peer);
    expect(peers.length).toBeLessThanOrEqual(64);
    expect(peers).toContain(b.localAddr());
    expect(peers).toContain('gone-299:1');
  });
});

describe('encodePeer', () => {
  it("uses the serverAddressProvider's address for the ID, as Go's EncodePeer does", async () => {
    const a = await transport({ serverAddressProvider: (id) => (id === 'node-2' ? '10.0.0.2:8300' : undefined) });
    expect(a.decodePeer(a.encodePeer('node-2', 'stale:1'))).toBe('10.0.0.2:8300');
    expect(a.decodePeer(a.encodePeer('node-3', '10.0.0.3:8300'))).toBe('10.0.0.3:8300');
  });
});
