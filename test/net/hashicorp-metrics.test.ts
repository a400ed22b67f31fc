/**
 * hashicorp/raft's metric names on the `raft-transport:metric` channel, over
 * real TCP: the raft.net.* timings of the server side (per rpcType, with
 * heartbeats told apart) and the raft.replication.* timings a Go leader takes
 * around its calls (per peer_id).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcType } from '../../src/commands.ts';
import type { HashicorpMetricMessage } from '../../src/diagnostics.ts';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import type { RPC } from '../../src/transport.ts';
import { appendReq, echoResponder, entry, heartbeatReq, pseudoRandom, serve, snapshotReq, voteReq } from '../helpers/fixtures.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function subscribe(): HashicorpMetricMessage[] {
  const seen: HashicorpMetricMessage[] = [];
  const fn = (m: unknown) => seen.push(m as HashicorpMetricMessage);
  diagnosticsChannel.subscribe('raft-transport:metric', fn);
  cleanup.push(() => void diagnosticsChannel.unsubscribe('raft-transport:metric', fn));
  return seen;
}

async function pair() {
  const a = await newTCPTransport('127.0.0.1:0', { timeout: 5_000, localID: 'node-a' });
  const b = await newTCPTransport('127.0.0.1:0', { timeout: 5_000, localID: 'node-b' });
  cleanup.push(
    () => a.close(),
    () => b.close(),
  );
  return [a, b] as const;
}

describe("metrics under hashicorp's names", () => {
  it('times every incoming RPC as Go does: getRPCType, then rpcDecode, rpcEnqueue, rpcRespond labelled by rpcType', async () => {
    const seen = subscribe();
    const [a, b] = await pair();
    b.setHeartbeatHandler((rpc) => void echoResponder(rpc));
    void serve(b);
    await a.requestVote('node-b', b.localAddr(), voteReq());
    await a.appendEntries('node-b', b.localAddr(), heartbeatReq(3));
    await a.appendEntries('node-b', b.localAddr(), appendReq({ entries: [entry(1), entry(2)] }));
    await a.timeoutNow('node-b', b.localAddr(), { rpcHeader: { protocolVersion: 3 } });
    await a.requestPreVote('node-b', b.localAddr(), {
      rpcHeader: { protocolVersion: 3 },
      term: 2,
      lastLogIndex: 0,
      lastLogTerm: 0,
    });
    await a.installSnapshot('node-b', b.localAddr(), snapshotReq(10_000), pseudoRandom(10_000));

    const server = seen.filter((m) => m.local === b.localAddr());
    const expected = ['RequestVote', 'Heartbeat', 'AppendEntries', 'TimeoutNow', 'RequestPreVote', 'InstallSnapshot'];
    for (const name of ['raft.net.rpcDecode', 'raft.net.rpcEnqueue', 'raft.net.rpcRespond']) {
      const samples = server.filter((m) => m.name === name);
      expect(samples.map((m) => m.labels.rpcType).sort(), name).toEqual([...expected].sort());
      for (const m of samples) {
        expect(m.kind).toBe('timer');
        expect(Number.isFinite(m.value) && m.value >= 0, `${name} ${m.value}`).toBe(true);
      }
    }
    // Per RPC, in Go's order: decoded, taken, answered.
    const order = server.filter((m) => m.labels.rpcType === 'RequestVote').map((m) => m.name);
    expect(order).toEqual(['raft.net.rpcDecode', 'raft.net.rpcEnqueue', 'raft.net.rpcRespond']);
    // getRPCType is unlabelled, one per request (the first request on a fresh connection included).
    const getType = server.filter((m) => m.name === 'raft.net.getRPCType');
    expect(getType.length).toBe(expected.length);
    for (const m of getType) expect(m.labels).toEqual({});
  });

  it("times a leader's successful heartbeats, appends (sync and pipelined) and snapshots per peer_id", async () => {
    const seen = subscribe();
    const [a, b] = await pair();
    void serve(b);
    await a.requestVote('node-b', b.localAddr(), voteReq());
    await a.appendEntries('node-b', b.localAddr(), heartbeatReq(3));
    await a.appendEntries('node-b', b.localAddr(), appendReq({ entries: [entry(1), entry(2)] }));
    const p = await a.appendEntriesPipeline('node-b', b.localAddr());
    const f1 = await p.appendEntries(appendReq({ entries: [entry(3)] }));
    const f2 = await p.appendEntries(appendReq({ entries: [entry(4), entry(5), entry(6)] }));
    await f1.wait();
    await f2.wait();
    await p.close();
    await a.installSnapshot('node-b', b.localAddr(), snapshotReq(10_000), pseudoRandom(10_000));

    const client = seen.filter((m) => m.local === a.localAddr());
    const names = client.map((m) => m.name);
    expect(names.filter((n) => n === 'raft.replication.heartbeat')).toHaveLength(1);
    expect(names.filter((n) => n === 'raft.replication.appendEntries.rpc')).toHaveLength(3);
    expect(names.filter((n) => n === 'raft.replication.installSnapshot')).toHaveLength(1);
    const logs = client.filter((m) => m.name === 'raft.replication.appendEntries.logs');
    expect(logs.map((m) => m.value)).toEqual([2, 1, 3]);
    for (const m of logs) expect(m.kind).toBe('counter');
    for (const m of client) expect(m.labels).toEqual({ peer_id: 'node-b' });
    // A vote is not a replication metric, in Go either.
    expect(client.some((m) => m.name.startsWith('raft.net.'))).toBe(false);
  });

  it('leaves incoming RPCs without timings while nobody subscribes', async () => {
    const [a, b] = await pair();
    const rpcs: RPC[] = [];
    void serve(b, (rpc) => {
      rpcs.push(rpc);
      return echoResponder(rpc);
    });
    await a.requestVote('node-b', b.localAddr(), voteReq());
    expect(rpcs).toHaveLength(1);
    expect(rpcs[0]?.type).toBe(RpcType.RequestVote);
    expect((rpcs[0] as unknown as { timings?: unknown }).timings).toBeUndefined();
    const seen = subscribe();
    await a.requestVote('node-b', b.localAddr(), voteReq());
    expect((rpcs[1] as unknown as { timings?: unknown }).timings).toBeDefined();
    expect(seen.some((m) => m.name === 'raft.net.rpcRespond')).toBe(true);
  });
});
