import diagnosticsChannel from 'node:diagnostics_channel';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcType } from '../../src/commands.ts';
import { channels } from '../../src/diagnostics.ts';
import { ErrorCode } from '../../src/errors.ts';
import { FaultNetwork } from '../../src/net/layers/fault-stream-layer.ts';
import type { StreamLayer } from '../../src/net/layers/stream-layer.ts';
import { TCPStreamLayer } from '../../src/net/layers/tcp-stream-layer.ts';
import { NetworkTransport, type NetworkTransportOptions } from '../../src/net/network-transport.ts';
import type { PeerHealthMessage, PeerHealthState } from '../../src/net/peer-health.ts';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import type { Logger } from '../../src/logger.ts';
import { expectCode } from '../helpers/expect-errors.ts';
import { startRaftNode } from '../helpers/raft-node.ts';
import { goAvailable } from '../interop/go-peer.ts';
import { serve, voteReq } from '../helpers/fixtures.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function peer(bind = '127.0.0.1:0'): Promise<NetworkTransport> {
  const t = await newTCPTransport(bind);
  void serve(t);
  cleanup.push(() => t.close());
  return t;
}

/** A layer that counts its failed dials and lets a test wait for the n-th one. */
class DialCounter implements StreamLayer {
  failedDials = 0;
  private readonly inner: StreamLayer;
  private readonly waiters: Array<{ n: number; wake: () => void }> = [];
  constructor(inner: StreamLayer) {
    this.inner = inner;
  }
  accept(): Promise<Duplex> {
    return this.inner.accept();
  }
  async dial(address: string, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    try {
      return await this.inner.dial(address, timeoutMs, signal);
    } catch (err) {
      this.failedDials++;
      for (const w of this.waiters.filter((x) => x.n <= this.failedDials)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.wake();
      }
      throw err;
    }
  }
  addr(): string {
    return this.inner.addr();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  /** Resolves once `n` more dials than now have failed. */
  failures(n: number): Promise<void> {
    const target = this.failedDials + n;
    return new Promise((wake) => this.waiters.push({ n: target, wake }));
  }
}

async function prober(
  opts: NetworkTransportOptions,
  wrap: (inner: StreamLayer) => StreamLayer = (l) => l,
): Promise<{ t: NetworkTransport; layer: StreamLayer }> {
  const layer = wrap(await TCPStreamLayer.listen('127.0.0.1:0'));
  const t = new NetworkTransport(layer, { probeInterval: 5, probeTimeout: 2_000, ...opts });
  cleanup.push(() => t.close());
  return { t, layer };
}

/**
 * Every state change `local` publishes, in order; `next(peer, state)` waits
 * for the first not yet consumed that matches.
 */
function healthEvents(local: () => string) {
  const seen: PeerHealthMessage[] = [];
  const waiters: Array<() => void> = [];
  const on = (m: unknown): void => {
    const msg = m as PeerHealthMessage;
    if (msg.local !== local()) return;
    seen.push(msg);
    for (const w of waiters.splice(0)) w();
  };
  diagnosticsChannel.subscribe(channels.peerHealth.name, on);
  cleanup.push(() => {
    diagnosticsChannel.unsubscribe(channels.peerHealth.name, on);
  });
  // Per peer, how many of its messages were consumed.
  const consumed = new Map<string, number>();
  return {
    seen,
    async next(peerAddr: string, state: PeerHealthState): Promise<PeerHealthMessage> {
      for (;;) {
        const mine = seen.filter((m) => m.peer === peerAddr);
        for (let i = consumed.get(peerAddr) ?? 0; i < mine.length; i++) {
          const m = mine[i] as PeerHealthMessage;
          if (m.state === state) {
            consumed.set(peerAddr, i + 1);
            return m;
          }
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

/** A logger that keeps every line. */
function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string; obj: object }> } {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const at =
    (level: string) =>
    (obj: object, msg: string): void => {
      lines.push({ level, msg, obj });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const healthLines = (l: ReturnType<typeof recordingLogger>) => l.lines.filter((x) => /peer became/.test(x.msg));

describe('peer health probing', () => {
  it('is off by default: no prober, peers() empty, addProbePeer refused', async () => {
    const t = await newTCPTransport('127.0.0.1:0');
    cleanup.push(() => t.close());
    expect(t.peers()).toEqual([]);
    expect(t.stats().probes).toBeUndefined();
    expect(() => t.addProbePeer('127.0.0.1:1')).toThrow(expect.objectContaining({ code: ErrorCode.NotSupported }));
  });

  it('flips to inactive when the peer is killed and back when it restarts, logging once per change', async () => {
    const p = await peer();
    const addr = p.localAddr();
    const logger = recordingLogger();
    let local = '';
    const events = healthEvents(() => local);
    const { t, layer } = await prober({ probePeers: [addr], logger }, (inner) => {
      local = inner.addr();
      return new DialCounter(inner);
    });
    const dials = layer as DialCounter;

    const up = await events.next(addr, 'active');
    expect(up.previous).toBe('unknown');
    const h = t.peers()[0];
    expect(h).toMatchObject({ peer: addr, state: 'active', source: 'explicit', failures: 0 });
    expect(h?.probesSucceeded).toBeGreaterThanOrEqual(1);
    expect(h?.rtt.count).toBe(h?.probesSucceeded);
    expect(h?.rtt.max).toBeGreaterThan(0);
    // The echo responder answers with the probe's own term and prevLogEntry: 0 and 0.
    expect(h).toMatchObject({ peerTerm: 0, peerLastLog: 0 });
    expect(t.stats().probes).toEqual([expect.objectContaining({ peer: addr, state: 'active' })]);

    await p.close();
    const down = await events.next(addr, 'inactive');
    expect(down.previous).toBe('active');
    expect(down.error).toBeInstanceOf(Error);
    // Many failed probes later, still exactly one line for the change.
    await dials.failures(20);
    expect(t.peers()[0]?.consecutiveFailures).toBeGreaterThanOrEqual(20);
    const downStatus = t.peers()[0];
    expect(downStatus?.state).toBe('inactive');
    expect(downStatus?.lastError?.code).toMatch(/^ERR_/);
    expect(downStatus?.since).toBe(down.since);

    await peer(addr);
    await events.next(addr, 'active');
    expect(events.seen.map((m) => m.state)).toEqual(['active', 'inactive', 'active']);
    expect(healthLines(logger).map((l) => `${l.level} ${l.msg}`)).toEqual([
      'info raft-net: peer became active',
      'warn raft-net: peer became inactive',
      'info raft-net: peer became active',
    ]);
    expect(t.peers()[0]?.failures).toBeGreaterThanOrEqual(20);
    expect(t.peers()[0]?.consecutiveFailures).toBe(0);
  });

  it('flips to inactive when FaultNetwork partitions the peer off, and back when healed', async () => {
    const network = new FaultNetwork({ seed: 15 });
    const p = new NetworkTransport(network.join(await TCPStreamLayer.listen('127.0.0.1:0')));
    void serve(p);
    cleanup.push(() => p.close());
    const addr = p.localAddr();
    let local = '';
    const events = healthEvents(() => local);
    const logger = recordingLogger();
    const { t } = await prober({ probePeers: [addr], logger }, (inner) => {
      local = inner.addr();
      return network.join(inner);
    });
    await events.next(addr, 'active');

    await network.partition(local, addr);
    const down = await events.next(addr, 'inactive');
    expect(down.error).toBeInstanceOf(Error);
    expect(t.peers()[0]?.lastError?.code).toMatch(/^ERR_/);

    await network.heal(local, addr);
    await events.next(addr, 'active');
    expect(t.peers()[0]).toMatchObject({ state: 'active', consecutiveFailures: 0 });
    expect(healthLines(logger)).toHaveLength(3);
  });

  it('probes on a connection of their own: answered while the Raft connection is stuck', async () => {
    // The peer answers probes (term 0) at once and never answers anything else.
    const p = await newTCPTransport('127.0.0.1:0');
    cleanup.push(() => p.close());
    let answered = 0;
    const waiters: Array<{ n: number; wake: () => void }> = [];
    void serve(p, (rpc) => {
      if (rpc.type !== RpcType.AppendEntries) return;
      if (rpc.command.term !== 0) return;
      rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: 5, lastLog: 9, success: false, noRetryBackoff: false });
      answered++;
      for (const w of waiters.filter((x) => x.n <= answered)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.wake();
      }
    });
    const probes = (n: number): Promise<void> => new Promise((wake) => waiters.push({ n: answered + n, wake }));
    const addr = p.localAddr();
    const { t } = await prober({ probePeers: [addr], probeDialledPeers: false });
    const pipeline = await t.appendEntriesPipeline('p', addr);
    cleanup.push(() => pipeline.close());
    const stuck = t.requestVote('p', addr, voteReq(), { timeout: 60_000 }).catch((e: unknown) => e);
    await probes(5);
    expect(t.peers()[0]).toMatchObject({ state: 'active', peerTerm: 5, peerLastLog: 9, failures: 0 });
    // Probe traffic is not Raft traffic: the peer's RPC counters don't see it.
    const raft = t.stats().peers.find((x) => x.peer === addr);
    expect(raft?.rpcsSent).toBe(1);
    expect(raft?.connectionsOpen).toBe(2);
    await t.close();
    expectCode(await stuck, ErrorCode.TransportShutdown);
  });

  it('learns the peers it dials unless told not to; removeProbePeer forgets one', async () => {
    const a = await peer();
    const b = await peer();
    const { t } = await prober({ probePeers: [a.localAddr()] });
    await t.requestVote('b', b.localAddr(), voteReq());
    expect(t.peers().map((h) => [h.peer, h.source])).toEqual([
      [a.localAddr(), 'explicit'],
      [b.localAddr(), 'dialled'],
    ]);
    await t.removeProbePeer(b.localAddr());
    expect(t.peers().map((h) => h.peer)).toEqual([a.localAddr()]);

    const { t: quiet } = await prober({ probeDialledPeers: false });
    await quiet.requestVote('b', b.localAddr(), voteReq());
    expect(quiet.peers()).toEqual([]);
    quiet.addProbePeer(b.localAddr());
    expect(quiet.peers()).toEqual([expect.objectContaining({ peer: b.localAddr(), source: 'explicit', state: 'unknown' })]);
  });

  it('stops on close(): no timer, no socket, no probe connection left, even with a peer down', async () => {
    const resources = (): Record<string, number> => {
      const r: Record<string, number> = {};
      for (const k of process.getActiveResourcesInfo()) r[k] = (r[k] ?? 0) + 1;
      return r;
    };
    const up = await peer();
    const gone = await newTCPTransport('127.0.0.1:0');
    const goneAddr = gone.localAddr();
    await gone.close();
    const before = resources();
    let local = '';
    const events = healthEvents(() => local);
    const layer = new DialCounter(await TCPStreamLayer.listen('127.0.0.1:0'));
    local = layer.addr();
    const t = new NetworkTransport(layer, { probeInterval: 1, probePeers: [up.localAddr(), goneAddr] });
    await events.next(up.localAddr(), 'active');
    await events.next(goneAddr, 'inactive');
    await layer.failures(3);
    const seen = events.seen.length;
    await t.close();
    expect(t.peers()).toEqual([]);
    const after = resources();
    for (const [kind, n] of Object.entries(after)) expect(n, kind).toBeLessThanOrEqual(before[kind] ?? 0);
    // Nothing more is probed or published after close.
    const failed = layer.failedDials;
    await new Promise((r) => setImmediate(r));
    expect(layer.failedDials).toBe(failed);
    expect(events.seen.length).toBe(seen);
  });
});

describe('peer health probing against hashicorp/raft (Go)', () => {
  const go = goAvailable();
  if (!go.ok) console.warn(`skipping the Go prober test: ${go.reason}`);

  it.skipIf(!go.ok)(
    'sees a real Raft leader active, with its term, and leaves it in place',
    async () => {
      const node = await startRaftNode();
      cleanup.push(() => node.close());
      const before = await node.state();
      expect(before.state).toBe('Leader');
      let local = '';
      const events = healthEvents(() => local);
      const { t } = await prober({ probeInterval: 1, probePeers: [node.addr], localID: 'prober' }, (inner) => {
        local = inner.addr();
        return inner;
      });
      await events.next(node.addr, 'active');
      // Poll (no timer) until many probes were answered.
      while ((t.peers()[0]?.probesSucceeded ?? 0) < 20) await new Promise((r) => setImmediate(r));
      expect(t.peers()[0]).toMatchObject({ state: 'active', peerTerm: node.term, peerLastLog: before.lastLog, failures: 0 });
      // Term 0 was refused without effect: same leader, same term, same log.
      expect(await node.state()).toEqual(before);
      expect(events.seen).toHaveLength(1);
    },
    120_000,
  );
});
