/**
 * Append pipelines the way a Raft leader lives with them: followers that
 * flap, followers that answer slowly, wall clocks that step, peers that stop
 * reading. Each test here failed before the connection lifecycle and the
 * pipeline deadlines were reworked (issue 9: defects 1, 3, 4 and the
 * sendLater listener leak; issue 14: pipeline timeouts carry ERR_RPC_TIMEOUT).
 */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, isTransportError } from '../../../src/errors.ts';
import { TCPDialer } from '../../../src/net/layers/tcp-stream-layer.ts';
import { NetworkTransport, type NetworkTransportOptions } from '../../../src/net/network-transport.ts';
import { newTCPTransport } from '../../../src/net/tcp-transport.ts';
import type { AppendFuture, AppendPipeline, RPC } from '../../../src/transport.ts';
import { appendReq, echoResponder, entry, serve } from '../../helpers/fixtures.ts';
import { startRawServer } from '../../helpers/raw-server.ts';
import { collectGarbage, RecordingLayer } from '../../helpers/recording-layer.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A leader that dials through a RecordingLayer, so the test can see its sockets. */
function leader(opts: NetworkTransportOptions = {}): { t: NetworkTransport; layer: RecordingLayer } {
  const layer = new RecordingLayer(new TCPDialer('leader'));
  const t = new NetworkTransport(layer, { timeout: 5_000, ...opts });
  cleanup.push(() => t.close());
  return { t, layer };
}

async function follower(handler?: (rpc: RPC) => void | Promise<void>): Promise<NetworkTransport> {
  const t = await newTCPTransport('127.0.0.1:0', { timeout: 5_000 });
  cleanup.push(() => t.close());
  void serve(t, handler);
  return t;
}

/** The next future a pipeline's consumer yields. */
async function nextFuture(p: AppendPipeline): Promise<AppendFuture> {
  const it = p.consumer()[Symbol.asyncIterator]();
  const r = await it.next();
  if (r.done === true) throw new Error('pipeline consumer ended');
  return r.value;
}

/** Drains a pipeline's consumer until it ends (after the pipeline closed). */
async function drained(p: AppendPipeline): Promise<void> {
  for await (const _ of p.consumer()) {
    // settled futures of a closed pipeline
  }
}

describe('pipeline lifecycle', () => {
  it('a flapping follower: hundreds of pipelines opened and closed leave no connection tracked or alive', async () => {
    const b = await follower();
    const { t: a, layer } = leader();
    collectGarbage();
    const buffersBefore = process.memoryUsage().arrayBuffers;
    const rounds = 300;
    for (let i = 0; i < rounds; i++) {
      const p = await a.appendEntriesPipeline('b', b.localAddr());
      // One request each, so every connection's encoder allocated its slab.
      await p.appendEntries(appendReq({ prevLogEntry: i }));
      const f = await nextFuture(p);
      expect(f.error).toBeUndefined();
      if (i % 2 === 0) {
        await p.close(); // the leader steps down or gives up on the pipeline
      } else {
        await b.closeStreams(); // the follower drops the connection
        await drained(p);
      }
    }
    await nextTurn();
    // Nothing holds the connections: their sockets (and encoder slabs) are collectable...
    layer.last = undefined;
    collectGarbage();
    await nextTurn();
    collectGarbage();
    expect(layer.alive()).toBeLessThanOrEqual(2);
    // Leaked, 300 slabs of 256 KiB would be 75 MiB.
    expect(process.memoryUsage().arrayBuffers - buffersBefore).toBeLessThan(24 * 1024 * 1024);
    // ...and the transport's own count of open connections is back to zero.
    expect(a.stats().peers[0]?.connectionsOpen).toBe(0);
    expect(a.stats().peers[0]?.connectionsOpened).toBe(rounds);
  }, 60_000);

  it('a slow follower answering one request at a time keeps a full window alive', async () => {
    // Each answer takes at least `d`; the timeout is 8d. Timed from send, the
    // ninth of a window of 16 sent together is necessarily late; timed from
    // the previous answer (as Go re-arms its read deadline), none is, unless
    // the process stalls for 7d.
    const d = 100;
    const b = await newTCPTransport('127.0.0.1:0', { timeout: 5_000 });
    cleanup.push(() => b.close());
    void (async () => {
      for await (const rpc of b.consumer()) {
        await sleep(d); // a stalled fsync, one batch at a time
        await echoResponder(rpc);
      }
    })();
    const { t: a } = leader({ timeout: 8 * d, maxRPCsInFlight: 16 });
    const p = await a.appendEntriesPipeline('b', b.localAddr());
    const total = 24;
    const results: Array<Error | undefined> = [];
    const consuming = (async () => {
      for await (const f of p.consumer()) {
        results.push(f.error);
        if (results.length === total) return;
      }
    })();
    for (let i = 0; i < total; i++) await p.appendEntries(appendReq({ prevLogEntry: i, entries: [entry(i + 1)] }));
    await consuming;
    expect(results).toEqual(Array.from({ length: total }, () => undefined));
    await p.close();
  }, 30_000);

  it('survives a +30 s wall-clock step: deadlines use the monotonic clock', async () => {
    let release: (() => void) | undefined;
    const held = new Promise<void>((r) => (release = r));
    const b = await follower(async (rpc) => {
      await held;
      await echoResponder(rpc);
    });
    const { t: a } = leader({ timeout: 2_000 });
    const p = await a.appendEntriesPipeline('b', b.localAddr());
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 30_000); // NTP step, VM resume
    const f = await p.appendEntries(appendReq());
    // A deadline mixed with the wall clock would now look 30 s overdue and be
    // checked by a 1 ms timer armed just now; this later, longer timer runs
    // after it, so the answer comes only once that check has had its chance.
    await sleep(5);
    release?.();
    await expect(f.wait()).resolves.toMatchObject({ success: true });
    const f2 = await p.appendEntries(appendReq({ prevLogEntry: 5 }));
    await expect(f2.wait()).resolves.toMatchObject({ lastLog: 7 });
    await p.close();
  });

  it('still times out after a -30 s wall-clock step, with ERR_RPC_TIMEOUT', async () => {
    const b = await follower(() => {}); // takes requests, never answers
    const { t: a } = leader({ timeout: 150 });
    const p = await a.appendEntriesPipeline('b', b.localAddr());
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 30_000);
    const f = await p.appendEntries(appendReq());
    const err = await f.wait().catch((e: unknown) => e);
    expect(isTransportError(err, ErrorCode.RpcTimeout), String(err)).toBe(true);
  }, 10_000);

  it('a peer that never answers: every unanswered future fails with ERR_RPC_TIMEOUT, later sends with ERR_PIPELINE_SHUTDOWN', async () => {
    const hole = await startRawServer(); // accepts, reads, never answers
    cleanup.push(() => hole.close());
    const { t: a } = leader({ timeout: 100 });
    const p = await a.appendEntriesPipeline('x', hole.addr);
    const futures = [
      await p.appendEntries(appendReq({ prevLogEntry: 1 })),
      await p.appendEntries(appendReq({ prevLogEntry: 2 })),
    ];
    for (const f of futures) {
      const err = await f.wait().catch((e: unknown) => e);
      expect(isTransportError(err, ErrorCode.RpcTimeout), String(err)).toBe(true);
      expect((err as Error).message).toMatch(/no response \(after 100 ms\)/);
      expect(isTransportError((err as Error).cause, ErrorCode.PipelineShutdown)).toBe(true);
    }
    await expect(p.appendEntries(appendReq())).rejects.toMatchObject({ code: ErrorCode.PipelineShutdown });
  });

  it('waits for a congested socket leave no drain or close listeners behind when they time out', async () => {
    const stalled = await startRawServer((s) => s.pause()); // a peer that stops reading
    cleanup.push(() => stalled.close());
    const { t: a, layer } = leader({ timeout: 60_000 });
    const p = await a.appendEntriesPipeline('x', stalled.addr);
    // More than the kernel buffers take: the rest waits in user space and the socket is congested.
    await p.appendEntries(appendReq({ entries: [entry(1, new Uint8Array(32 * 1024 * 1024))] }));
    const socket = layer.last;
    if (socket === undefined) throw new Error('no socket dialed');
    const drain = socket.listenerCount('drain');
    const close = socket.listenerCount('close');
    for (let i = 0; i < 20; i++) {
      const err = await p.appendEntries(appendReq(), { timeout: 5 }).catch((e: unknown) => e);
      expect(isTransportError(err, ErrorCode.RpcTimeout), String(err)).toBe(true);
    }
    expect(socket.listenerCount('drain')).toBe(drain);
    expect(socket.listenerCount('close')).toBe(close);
    await p.close();
  }, 30_000);
});
