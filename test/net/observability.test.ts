import { spawnSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcType } from '../../src/commands.ts';
import { channels } from '../../src/diagnostics.ts';
import { ErrorCode } from '../../src/errors.ts';
import type { NetworkTransport } from '../../src/net/network-transport.ts';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import { appendReq, echoResponder, entry, pseudoRandom, serve, snapshotReq, voteReq } from '../helpers/fixtures.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function pair(): Promise<[NetworkTransport, NetworkTransport]> {
  const a = await newTCPTransport('127.0.0.1:0', { timeout: 5_000 });
  const b = await newTCPTransport('127.0.0.1:0', { timeout: 5_000 });
  cleanup.push(
    () => a.close(),
    () => b.close(),
  );
  return [a, b];
}

function record(): Map<string, Array<Record<string, unknown>>> {
  const seen = new Map<string, Array<Record<string, unknown>>>();
  for (const ch of Object.values(channels)) {
    const name = String(ch.name);
    seen.set(name, []);
    const fn = (m: unknown) => seen.get(name)?.push(m as Record<string, unknown>);
    diagnosticsChannel.subscribe(name, fn);
    cleanup.push(() => void diagnosticsChannel.unsubscribe(name, fn));
  }
  return seen;
}

describe('observability', () => {
  it('publishes RPC, connection, pipeline and snapshot events on diagnostics channels', async () => {
    const seen = record();
    const [a, b] = await pair();
    void serve(b, (rpc) => (rpc.type === RpcType.TimeoutNow ? rpc.respond(null, 'no thanks') : echoResponder(rpc)));
    await a.requestVote('b', b.localAddr(), voteReq({ term: 9 }));
    await expect(a.timeoutNow('b', b.localAddr(), { rpcHeader: { protocolVersion: 3 } })).rejects.toMatchObject({
      code: ErrorCode.Remote,
    });
    const p = await a.appendEntriesPipeline('b', b.localAddr());
    const f = await p.appendEntries(appendReq({ entries: [entry(1)] }));
    await f.wait();
    await a.installSnapshot('b', b.localAddr(), snapshotReq(200_000), pseudoRandom(200_000, 50_000));
    await p.close();

    const get = (n: string) => seen.get(`raft-transport:${n}`) ?? [];
    expect(get('rpc:send').map((m) => m.type)).toEqual([RpcType.RequestVote, RpcType.TimeoutNow, RpcType.InstallSnapshot]);
    expect(get('rpc:complete').map((m) => m.type)).toEqual([RpcType.RequestVote, RpcType.InstallSnapshot]);
    expect(get('rpc:complete')[0]).toMatchObject({ target: b.localAddr(), local: a.localAddr(), response: { term: 9 } });
    expect(get('rpc:error')).toHaveLength(1);
    expect(get('rpc:error')[0]).toMatchObject({ type: RpcType.TimeoutNow, error: { code: ErrorCode.Remote } });
    expect(get('rpc:receive').map((m) => m.type)).toEqual([
      RpcType.RequestVote,
      RpcType.TimeoutNow,
      RpcType.AppendEntries,
      RpcType.InstallSnapshot,
    ]);
    expect(get('pipeline:depth').map((m) => m.inFlight)).toEqual([1, 0]);
    const sent = get('snapshot:progress').filter((m) => m.direction === 'send');
    const received = get('snapshot:progress').filter((m) => m.direction === 'receive');
    expect(sent.at(-1)).toMatchObject({ bytes: 200_000, size: 200_000 });
    expect(received.at(-1)).toMatchObject({ bytes: 200_000, size: 200_000 });
    expect(get('connection:open').filter((m) => m.direction === 'outbound').length).toBeGreaterThanOrEqual(2);
    expect(get('connection:open').filter((m) => m.direction === 'inbound').length).toBeGreaterThanOrEqual(2);
    expect(get('connection:close').length).toBeGreaterThanOrEqual(2);
  });

  it('keeps per-peer stats: counts, bytes, latency and in-flight', async () => {
    const [a, b] = await pair();
    void serve(b, (rpc) => (rpc.type === RpcType.TimeoutNow ? rpc.respond(null, 'nope') : echoResponder(rpc)));
    for (let i = 0; i < 20; i++) await a.requestVote('b', b.localAddr(), voteReq());
    await a.timeoutNow('b', b.localAddr(), { rpcHeader: { protocolVersion: 3 } }).catch(() => {});
    const p = await a.appendEntriesPipeline('b', b.localAddr());
    for (let i = 0; i < 10; i++) await (await p.appendEntries(appendReq())).wait();
    await p.close();
    const stats = a.stats();
    expect(stats.peers).toHaveLength(1);
    const s = stats.peers[0];
    expect(s).toMatchObject({
      peer: b.localAddr(),
      rpcsSent: 31,
      rpcsSucceeded: 30,
      rpcsFailed: 1,
      remoteErrors: 1,
      inFlight: 0,
    });
    expect(s?.latency.count).toBe(30);
    expect(s?.latency.p50).toBeGreaterThan(0);
    expect(s?.latency.p99).toBeGreaterThanOrEqual(s?.latency.p50 ?? 0);
    expect(s?.latency.max).toBeGreaterThanOrEqual(s?.latency.p99 ?? 0);
    expect(s?.bytesSent).toBeGreaterThan(1000);
    expect(s?.bytesReceived).toBeGreaterThan(500);
    expect(b.stats().inbound).toMatchObject({ rpcsReceived: 31, protocolErrors: 0 });
    expect(b.stats().inbound.bytesReceived).toBe(s?.bytesSent);
  });

  it('is silent by default and logs to stderr under NODE_DEBUG=raft-transport', () => {
    const script = fileURLToPath(new URL('../helpers/bad-input-once.ts', import.meta.url));
    const run = (env: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, ['--import', 'tsx', script], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
        timeout: 30_000,
      });
    const quiet = run({ NODE_DEBUG: '' });
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).not.toMatch(/raft-net/);
    const loud = run({ NODE_DEBUG: 'raft-transport' });
    expect(loud.status).toBe(0);
    expect(loud.stderr).toMatch(/RAFT-TRANSPORT \d+: raft-net: closing connection on bad input/);
  });
});
