import { spawnSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RpcType } from '../../src/commands.ts';
import { channels } from '../../src/diagnostics.ts';
import { ErrorCode } from '../../src/errors.ts';
import type { NetworkTransport } from '../../src/net/network-transport.ts';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import type { Logger } from '../../src/logger.ts';
import { MessageWriter } from '../../src/net/codec/encoder.ts';
import { closedPort } from '../helpers/expect-errors.ts';
import { appendReq, echoResponder, entry, heartbeatReq, pseudoRandom, serve, snapshotReq, voteReq } from '../helpers/fixtures.ts';

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
    expect(loud.stderr).toMatch(/RAFT-TRANSPORT \d+: raft-net: failed to dial 127\.0\.0\.1:\d+/);
  });

  it('logs dial failures, cut connections and broken pipelines, but not orderly closes', async () => {
    const log = new RecordingLogger();
    const a = await newTCPTransport('127.0.0.1:0', { timeout: 5_000, logger: log });
    const b = await newTCPTransport('127.0.0.1:0', { timeout: 5_000, logger: log });
    cleanup.push(
      () => a.close(),
      () => b.close(),
    );
    // A dial failure.
    const nowhere = await closedPort();
    await expect(a.requestVote('x', nowhere, voteReq())).rejects.toMatchObject({ code: ErrorCode.PeerUnreachable });
    expect(log.find('failed to dial')).toMatchObject({ level: 'debug', obj: { target: nowhere } });

    // An orderly pipeline close logs nothing.
    void serve(b);
    const p1 = await a.appendEntriesPipeline('b', b.localAddr());
    await (await p1.appendEntries(appendReq())).wait();
    await p1.close();
    expect(log.find('broke')).toBeUndefined();
    expect(log.find('cut')).toBeUndefined();

    // A pipeline whose peer goes away breaks: logged, with the connection cut.
    const p2 = await a.appendEntriesPipeline('b', b.localAddr());
    await (await p2.appendEntries(appendReq())).wait();
    await b.close();
    await expect(p2.appendEntries(appendReq()).then((f) => f.wait())).rejects.toBeInstanceOf(Error);
    await vi.waitFor(() => expect(log.find('append pipeline')).toBeDefined());
    expect(log.find('append pipeline')).toMatchObject({ level: 'warn', obj: { target: b.localAddr() } });
    expect(log.find(`connection to ${b.localAddr()} cut`)?.level).toBe('debug');
  });

  it('logs an inbound connection cut by the peer', async () => {
    const log = new RecordingLogger();
    const b = await newTCPTransport('127.0.0.1:0', { logger: log });
    cleanup.push(() => b.close());
    const port = Number(b.localAddr().split(':')[1]);
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    await vi.waitFor(() => expect(log.find('accepted connection')).toBeDefined());
    const from = `127.0.0.1:${s.localPort}`;
    s.resetAndDestroy();
    await vi.waitFor(() => expect(log.find(`connection from ${from} cut`)).toBeDefined());
  });

  it('logs a throwing heartbeat handler locally, with the exception', async () => {
    const log = new RecordingLogger();
    const [a] = await pair();
    const b = await newTCPTransport('127.0.0.1:0', { logger: log });
    cleanup.push(() => b.close());
    const boom = new Error('disk on fire');
    b.setHeartbeatHandler(() => {
      throw boom;
    });
    await expect(a.appendEntries('b', b.localAddr(), heartbeatReq(3))).rejects.toMatchObject({
      code: ErrorCode.Remote,
      remoteMessage: 'heartbeat handler failed',
    });
    expect(log.find('heartbeat handler threw')).toMatchObject({ level: 'warn', obj: { err: boom } });
  });

  it('gives every RPC the remote address of the connection it arrived on (rpc.remote)', async () => {
    const [a, b] = await pair();
    const seen = record();
    const remotes: string[] = [];
    b.setHeartbeatHandler((rpc) => {
      remotes.push(rpc.remote);
      void echoResponder(rpc);
    });
    void serve(b, (rpc) => {
      remotes.push(rpc.remote);
      return echoResponder(rpc);
    });
    await a.requestVote('b', b.localAddr(), voteReq());
    await a.appendEntries('b', b.localAddr(), heartbeatReq(2));
    // A raw socket of our own: the remote address is its local end.
    const port = Number(b.localAddr().split(':')[1]);
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    const viaDiagnostics = seen.get('raft-transport:rpc:receive') ?? [];
    const w = new MessageWriter();
    w.writeRequest(RpcType.RequestVote, voteReq());
    s.write(w.take());
    await vi.waitFor(() => expect(remotes).toHaveLength(3));
    expect(remotes[2]).toBe(`127.0.0.1:${s.localPort}`);
    s.destroy();
    expect(remotes[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(remotes[0]).not.toBe(b.localAddr());
    // The same string the diagnostics channel reports.
    expect(viaDiagnostics.map((m) => m.remote)).toEqual(remotes);
  });
});

/** A pino-shaped logger that keeps what it is given. */
class RecordingLogger implements Logger {
  readonly entries: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  debug(obj: object, msg: string): void {
    this.entries.push({ level: 'debug', obj: obj as Record<string, unknown>, msg });
  }
  info(obj: object, msg: string): void {
    this.entries.push({ level: 'info', obj: obj as Record<string, unknown>, msg });
  }
  warn(obj: object, msg: string): void {
    this.entries.push({ level: 'warn', obj: obj as Record<string, unknown>, msg });
  }
  error(obj: object, msg: string): void {
    this.entries.push({ level: 'error', obj: obj as Record<string, unknown>, msg });
  }
  find(text: string): { level: string; obj: Record<string, unknown>; msg: string } | undefined {
    return this.entries.find((e) => e.msg.includes(text));
  }
}
