import { createHash } from 'node:crypto';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcType } from '../../../src/commands.ts';
import { ErrorCode, isTransportError } from '../../../src/errors.ts';
import {
  type FaultEvent,
  FaultInjectionStreamLayer,
  FaultNetwork,
  type FaultNetworkOptions,
} from '../../../src/net/layers/fault-stream-layer.ts';
import { NetworkTransport, type NetworkTransportOptions } from '../../../src/net/network-transport.ts';
import { TCPStreamLayer } from '../../../src/net/layers/tcp-stream-layer.ts';
import type { AppendFuture, RPC } from '../../../src/transport.ts';
import { runTransportConformance } from '../../conformance/transport-suite.ts';
import { appendReq, crcOf, echoResponder, entry, pseudoRandom, serve, snapshotReq, voteReq } from '../../helpers/fixtures.ts';
import { closedPort, expectCode, rejection } from '../../helpers/expect-errors.ts';

/** Handles that outlive a leaky close(): sockets, servers, timers, immediates. */
function resources(): Record<string, number> {
  const out: Record<string, number> = { TCPSocketWrap: 0, TCPServerWrap: 0, Timeout: 0, Immediate: 0 };
  for (const r of process.getActiveResourcesInfo()) if (r in out) out[r] = (out[r] ?? 0) + 1;
  return out;
}

interface Node {
  name: string;
  layer: FaultInjectionStreamLayer;
  t: NetworkTransport;
  addr: string;
}

const open: NetworkTransport[] = [];

/** n NetworkTransports over TCP, each wrapped in a fault layer on one network (joined in order, so streams are stable). */
async function cluster(
  n: number,
  netOpts: FaultNetworkOptions,
  tOpts: NetworkTransportOptions = {},
  names?: string[],
): Promise<{ network: FaultNetwork; nodes: Node[] }> {
  const network = new FaultNetwork(netOpts);
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const inner = await TCPStreamLayer.listen('127.0.0.1:0');
    const name = names?.[i];
    const layer = network.join(inner, name !== undefined ? { name } : {});
    const t = new NetworkTransport(layer, { timeout: 60_000, ...tOpts });
    open.push(t);
    nodes.push({ name: layer.name, layer, t, addr: t.localAddr() });
  }
  return { network, nodes };
}

async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((t) => t.close()));
}

/** Resolves after `n` calls of the returned tick function. */
function countdown(n: number): { tick: () => void; done: Promise<void> } {
  let left = n;
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    tick: () => {
      if (--left === 0) release();
    },
    done,
  };
}

runTransportConformance({
  name: 'NetworkTransport over TCP through FaultInjectionStreamLayer with latency',
  sameObjects: false,
  unreachableAddr: closedPort,
  async makeCluster(n, opts = {}) {
    const network = new FaultNetwork({ seed: 2024, latency: { minMs: 0, maxMs: 2 } });
    const ts: NetworkTransport[] = [];
    for (let i = 0; i < n; i++) {
      const layer = network.join(await TCPStreamLayer.listen('127.0.0.1:0'));
      ts.push(
        new NetworkTransport(layer, {
          timeout: opts.timeout ?? 5_000,
          maxRPCsInFlight: opts.maxInFlight,
          localID: opts.localIDs?.[i],
        }),
      );
    }
    return {
      transports: ts,
      close: async () => {
        await Promise.all(ts.map((t) => t.close()));
      },
    };
  },
});

describe('FaultInjectionStreamLayer', () => {
  afterEach(closeAll);

  it('fails calls across a partition fast, fails in-flight work with typed errors, and heals', async () => {
    const { network, nodes } = await cluster(3, { seed: 1 });
    const [a, b, c] = nodes as [Node, Node, Node];
    const held = countdown(2);
    for (const n of nodes) {
      void serve(n.t, (rpc: RPC) => {
        if (rpc.type === RpcType.AppendEntries && rpc.command.term === 99) {
          held.tick(); // never answered
          return;
        }
        return echoResponder(rpc);
      });
    }
    expect((await a.t.appendEntries('b', b.addr, appendReq({ term: 1 }))).term).toBe(1);
    const inflight = a.t.appendEntries('b', b.addr, appendReq({ term: 99 })).then(
      () => undefined,
      (e: unknown) => e,
    );
    const pipeline = await a.t.appendEntriesPipeline('b', b.addr);
    const future = await pipeline.appendEntries(appendReq({ term: 99 }));
    await held.done;

    await network.partition(a.name, b.name);
    expect(network.connectionCount(a.name, b.name)).toBe(0);
    expectCode(await inflight, ErrorCode.ConnectionClosed);
    expect(future.error === undefined ? await rejection(future.wait()) : future.error).toSatisfy((e) =>
      isTransportError(e, ErrorCode.PipelineShutdown),
    );
    // Calls across the partition fail at once (the transports' timeout is 60 s).
    expectCode(await rejection(a.t.appendEntries('b', b.addr, appendReq())), ErrorCode.PeerUnreachable);
    expectCode(await rejection(b.t.requestVote('a', a.addr, voteReq())), ErrorCode.PeerUnreachable);
    expectCode(await rejection(a.t.appendEntriesPipeline('b', b.addr)), ErrorCode.PeerUnreachable);
    // Everything else still flows.
    expect((await a.t.appendEntries('c', c.addr, appendReq({ term: 2 }))).term).toBe(2);
    expect((await c.t.appendEntries('b', b.addr, appendReq({ term: 3 }))).term).toBe(3);

    await network.heal();
    expect((await a.t.appendEntries('b', b.addr, appendReq({ term: 4 }))).term).toBe(4);
    expect((await b.t.appendEntries('a', a.addr, appendReq({ term: 5 }))).term).toBe(5);
    await pipeline.close();
  });

  it('isolates one node from everyone, and blocks a single direction', async () => {
    const { network, nodes } = await cluster(3, { seed: 2 });
    const [a, b, c] = nodes as [Node, Node, Node];
    for (const n of nodes) void serve(n.t);
    const call = (from: Node, to: Node) => from.t.appendEntries(to.name, to.addr, appendReq({ term: 6 }));

    await network.isolate(a.name);
    for (const [from, to] of [
      [a, b],
      [a, c],
      [b, a],
      [c, a],
    ] as const) {
      expectCode(await rejection(call(from, to)), ErrorCode.PeerUnreachable);
    }
    expect((await call(b, c)).term).toBe(6);
    expect((await call(c, b)).term).toBe(6);
    expect(network.reachable(b.name, c.name)).toBe(true);

    await network.heal(a.name);
    expect((await call(a, b)).term).toBe(6);

    // One way: a can no longer call b, but b's calls to a (and a's answers) still flow.
    await call(b, a);
    await network.block(a.name, b.name);
    expectCode(await rejection(call(a, b)), ErrorCode.PeerUnreachable);
    expect(network.connectionCount(b.name, a.name)).toBe(1);
    expect((await call(b, a)).term).toBe(6);
    expect((await call(c, b)).term).toBe(6);
    await network.heal(a.name, b.name);
    expect((await call(a, b)).term).toBe(6);
  });

  it('refuses faults aimed at names no layer joined under, instead of silently doing nothing', async () => {
    const { network, nodes } = await cluster(2, { seed: 7 });
    const [a, b] = nodes as [Node, Node];
    void serve(b.t);
    // Layers joined without a name are named by address: a node id is a typo here.
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['isolate', () => network.isolate('n1')],
      ['partition', () => network.partition(a.name, 'nope')],
      ['block', () => network.block('nope', b.name)],
      ['cut', () => network.cut(a.name, 'nope')],
      ['heal', () => network.heal('nope')],
    ];
    for (const [method, call] of calls) {
      const err = await rejection(call());
      expect(isTransportError(err, ErrorCode.InvalidValue), method).toBe(true);
      expect((err as Error).message).toContain('pass { name } to join()');
      expect((err as Error).message).toContain(a.name);
    }
    expect(() => network.reachable(a.name, 'nope')).toThrow(/no layer joined/);
    expect(() => network.connectionCount('nope')).toThrow(/no layer joined/);
    // Nothing was partitioned by the refused calls.
    expect((await a.t.appendEntries('b', b.addr, appendReq({ term: 9 }))).term).toBe(9);

    // A node that closed can still be named while it restarts.
    await a.t.close();
    await network.isolate(a.name);
    await network.heal(a.name);
  });

  it('adds latency without reordering: pipelines, concurrent calls and snapshots arrive intact', async () => {
    const { nodes } = await cluster(2, { seed: 3, latency: { minMs: 0, maxMs: 4 } });
    const [a, b] = nodes as [Node, Node];
    void serve(b.t);

    const pipeline = await a.t.appendEntriesPipeline('b', b.addr);
    const n = 300;
    const seen: AppendFuture[] = [];
    const consumed = (async () => {
      for await (const f of pipeline.consumer()) {
        seen.push(f);
        if (seen.length === n) return;
      }
    })();
    for (let i = 0; i < n; i++) await pipeline.appendEntries(appendReq({ prevLogEntry: i, entries: [entry(i + 1)] }));
    await consumed;
    expect(seen.map((f) => f.request.prevLogEntry)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(seen.map((f) => f.response?.lastLog)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    await pipeline.close();

    const out = await Promise.all(
      Array.from({ length: 100 }, (_, i) => a.t.appendEntries('b', b.addr, appendReq({ prevLogEntry: i, entries: [] }))),
    );
    expect(out.map((r) => r.lastLog)).toEqual(Array.from({ length: 100 }, (_, i) => i));

    const size = 1024 * 1024 + 3;
    const snap = await a.t.installSnapshot('b', b.addr, snapshotReq(size), pseudoRandom(size, 16 * 1024, 5));
    expect(snap.term).toBe(await crcOf(pseudoRandom(size, 16 * 1024, 5)));
  });

  it('keeps byte order, back-pressure, end and close semantics on a delayed stream', async () => {
    const network = new FaultNetwork({ seed: 4, latency: { minMs: 0, maxMs: 3 } });
    const server = network.join(await TCPStreamLayer.listen('127.0.0.1:0'));
    const client = network.join(await TCPStreamLayer.listen('127.0.0.1:0'));
    try {
      const [echo, s] = (await Promise.all([server.accept(), client.dial(server.addr(), 5_000)])) as [Duplex, Duplex];
      expect(s).not.toBeInstanceOf(net.Socket);
      echo.pipe(echo); // echoes, then ends its side when ours ends

      const sent = createHash('sha256');
      const got = createHash('sha256');
      let received = 0;
      s.on('data', (d: Buffer) => {
        got.update(d);
        received += d.length;
      });
      const ended = new Promise<void>((r) => s.once('end', r));
      const closed = new Promise<void>((r) => s.once('close', r));
      const echoClosed = new Promise<void>((r) => echo.once('close', r));
      let total = 0;
      let blocked = 0;
      let i = 0;
      for await (const chunk of pseudoRandom(2 * 1024 * 1024, 3_000, 9)) {
        const piece = Buffer.from(chunk.subarray(0, 1 + ((i++ * 7919) % chunk.length)));
        sent.update(piece);
        total += piece.length;
        if (!s.write(piece)) {
          blocked++;
          await new Promise((r) => s.once('drain', r));
        }
      }
      s.end();
      await ended;
      await closed;
      await echoClosed;
      expect(received).toBe(total);
      expect(got.digest('hex')).toBe(sent.digest('hex'));
      expect(blocked).toBeGreaterThan(0);
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('passes the inner socket through untouched when no fault is configured', async () => {
    const network = new FaultNetwork({ seed: 5 });
    const server = network.join(await TCPStreamLayer.listen('127.0.0.1:0'));
    const client = network.join(await TCPStreamLayer.listen('127.0.0.1:0'));
    try {
      const [inbound, s] = await Promise.all([server.accept(), client.dial(server.addr(), 5_000)]);
      expect(s).toBeInstanceOf(net.Socket);
      expect(network.connectionCount(client.name, server.name)).toBe(1);
      const gone = new Promise((r) => inbound.once('close', r));
      inbound.resume();
      await network.cut(client.name, server.name);
      await gone; // the TCP connection is torn down for both ends
      expect(network.connectionCount()).toBe(0);
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('gives the same dial drops for the same seed and different ones for another seed', async () => {
    const dropPattern = async (seed: number): Promise<string> => {
      // No pool, so every call dials; no dial backoff, so failed dials don't slow the run down.
      const { nodes } = await cluster(2, { seed, dropDialRate: 0.3 }, { maxPool: 0, dialBackoff: { baseMs: 0, maxMs: 0 } }, [
        'a',
        'b',
      ]);
      const [a, b] = nodes as [Node, Node];
      void serve(b.t);
      let pattern = '';
      for (let i = 0; i < 200; i++) {
        try {
          await a.t.requestVote('b', b.addr, voteReq());
          pattern += '.';
        } catch (err) {
          expectCode(err, ErrorCode.PeerUnreachable);
          pattern += 'x';
        }
      }
      await closeAll();
      return pattern;
    };
    const first = await dropPattern(42);
    expect(await dropPattern(42)).toBe(first);
    expect(await dropPattern(43)).not.toBe(first);
    expect(first).toContain('x');
    expect(first).toContain('.');
  });

  it('notices cut connections and reconnects on the next call', async () => {
    const { network, nodes } = await cluster(2, { seed: 6, latency: { minMs: 0, maxMs: 1 } });
    const [a, b] = nodes as [Node, Node];
    void serve(a.t);
    void serve(b.t);
    await a.t.appendEntries('b', b.addr, appendReq({ term: 1 }));
    expect(network.connectionCount(a.name, b.name)).toBe(1);
    await network.cut(a.name, b.name);
    expect(network.connectionCount(a.name, b.name)).toBe(0);
    expect((await a.t.appendEntries('b', b.addr, appendReq({ term: 2 }))).term).toBe(2);
    expect(network.connectionCount(a.name, b.name)).toBe(1);

    const pipeline = await a.t.appendEntriesPipeline('b', b.addr);
    await (await pipeline.appendEntries(appendReq({ term: 3 }))).wait();
    await b.t.appendEntries('a', a.addr, appendReq({ term: 4 }));
    await network.cutAll();
    expect(network.connectionCount()).toBe(0);
    await expect(pipeline.appendEntries(appendReq())).rejects.toSatisfy((e) => isTransportError(e));
    expect((await a.t.appendEntries('b', b.addr, appendReq({ term: 5 }))).term).toBe(5);
    expect((await b.t.appendEntries('a', a.addr, appendReq({ term: 6 }))).term).toBe(6);
    await pipeline.close();
  });

  it('cuts connections after a seeded random byte count, reproducibly, and calls recover', async () => {
    const run = async (seed: number): Promise<{ outcomes: string; events: FaultEvent[] }> => {
      const events: FaultEvent[] = [];
      const { nodes } = await cluster(
        2,
        { seed, cutAfterBytes: { min: 1_000, max: 4_000 }, onFault: (e) => events.push(e) },
        {},
        ['a', 'b'],
      );
      const [a, b] = nodes as [Node, Node];
      void serve(b.t);
      let outcomes = '';
      for (let i = 0; i < 100; i++) {
        try {
          const r = await a.t.appendEntries('b', b.addr, appendReq({ prevLogEntry: i }));
          expect(r.lastLog).toBe(i + 2);
          outcomes += '.';
        } catch (err) {
          expect(isTransportError(err), String(err)).toBe(true);
          outcomes += 'x';
        }
      }
      await closeAll();
      return { outcomes, events };
    };
    const first = await run(77);
    expect(first.outcomes).toContain('x');
    expect(first.outcomes).toContain('.');
    // A fresh connection carries at least one call: the call after a failure redials and succeeds.
    expect(first.outcomes).not.toContain('xx');
    expect(first.events.every((e) => e.type === 'cut' && e.reason === 'bytes')).toBe(true);
    const again = await run(77);
    expect(again.events).toEqual(first.events);
    expect(again.outcomes).toBe(first.outcomes);
  });

  it('leaves no sockets, servers or timers behind once every transport is closed', async () => {
    const before = resources();
    const { network, nodes } = await cluster(3, {
      seed: 8,
      latency: { minMs: 1, maxMs: 5 },
      cutAfterBytes: { min: 50_000, max: 200_000 },
    });
    const [a, b, c] = nodes as [Node, Node, Node];
    for (const n of nodes) void serve(n.t);
    const pipeline = await a.t.appendEntriesPipeline('b', b.addr);
    const futures = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pipeline.appendEntries(appendReq({ prevLogEntry: i }))),
    );
    await Promise.allSettled(futures.map((f) => f.wait()));
    await Promise.allSettled(nodes.flatMap((from) => nodes.map((to) => from.t.requestVote(to.name, to.addr, voteReq()))));
    await network.partition(a.name, c.name);
    // Leave work in flight: a long snapshot whose source never ends, and delayed bytes in the lines.
    const stuck = a.t.installSnapshot('b', b.addr, snapshotReq(10_000_000), pseudoRandom(10_000_000)).catch((e: unknown) => e);
    const calls = Promise.allSettled([b.t.appendEntries('c', c.addr, appendReq()), c.t.appendEntries('b', b.addr, appendReq())]);
    await closeAll();
    expect(isTransportError(await stuck)).toBe(true);
    await calls;
    const after = resources();
    for (const [kind, n] of Object.entries(after)) expect(n, kind).toBeLessThanOrEqual(before[kind] ?? 0);
  });

  it('rejects invalid settings and duplicate names', async () => {
    expect(() => new FaultNetwork({ dropDialRate: 1.5 })).toThrow(/dropDialRate/);
    expect(() => new FaultNetwork({ latency: { minMs: 5, maxMs: 1 } })).toThrow(/latency/);
    const network = new FaultNetwork();
    expect(typeof network.seed).toBe('number');
    const inner = await TCPStreamLayer.listen('127.0.0.1:0');
    const inner2 = await TCPStreamLayer.listen('127.0.0.1:0');
    try {
      network.join(inner, { name: 'n1' });
      let err: unknown;
      try {
        network.join(inner2, { name: 'n1' });
      } catch (e) {
        err = e;
      }
      expectCode(err, ErrorCode.InvalidValue);
      expect(() => network.configure({ cutRate: -1 })).toThrow(/cutRate/);
      // Standalone, a layer gets a private network and is named by its address.
      const alone = new FaultInjectionStreamLayer(inner2, { dropDialRate: 1 });
      expect(alone.name).toBe(inner2.addr());
      expect(alone.network).toBeInstanceOf(FaultNetwork);
      expectCode(await rejection(alone.dial(inner.addr(), 1_000)), ErrorCode.PeerUnreachable);
    } finally {
      await Promise.all([inner.close(), inner2.close()]);
    }
  });
});
