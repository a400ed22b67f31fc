import { afterEach, describe, expect, it } from 'vitest';
import { RpcType } from '../../src/commands.ts';
import { ErrorCode, isTransportError } from '../../src/errors.ts';
import { handlesReleased } from '../../src/internal/handles-released.ts';
import type { NetworkTransport } from '../../src/net/network-transport.ts';
import { newTCPTransport, type TCPTransportOptions } from '../../src/net/tcp-transport.ts';
import type { AppendFuture, RPC } from '../../src/transport.ts';
import { startChildPeer } from '../helpers/child-peer.ts';
import { type RawServer, startRawServer } from '../helpers/raw-server.ts';
import { appendReq, echoResponder, entry, pseudoRandom, serve, snapshotReq, voteReq } from '../helpers/fixtures.ts';
import { transportError } from '../helpers/expect-errors.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function transport(opts: TCPTransportOptions = {}): Promise<NetworkTransport> {
  const t = await newTCPTransport('127.0.0.1:0', { timeout: 10_000, ...opts });
  cleanup.push(() => t.close());
  return t;
}

/** A TCP server that accepts and never says a word. */
async function blackHole(): Promise<RawServer> {
  const hole = await startRawServer();
  cleanup.push(() => hole.close());
  return hole;
}

function sockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;
}
function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('faults over TCP', () => {
  it('peer killed mid-pipeline: every future fails, then the restarted peer is reached again', async () => {
    const peer = await startChildPeer(0, 'hold');
    cleanup.push(() => peer.kill());
    const t = await transport({ dialBackoff: { baseMs: 5, maxMs: 50 } });
    const p = await t.appendEntriesPipeline('peer', peer.addr);
    const futures: AppendFuture[] = [];
    for (let i = 0; i < 32; i++) futures.push(await p.appendEntries(appendReq({ prevLogEntry: i })));
    const sync = transportError(t.requestVote('peer', peer.addr, voteReq()));
    await peer.kill();

    const delivered: AppendFuture[] = [];
    for await (const f of p.consumer()) delivered.push(f);
    expect(delivered).toEqual(futures);
    for (const f of futures) {
      expect(isTransportError(f.error)).toBe(true);
      expect(isTransportError(f.error, ErrorCode.PipelineShutdown)).toBe(true);
    }
    const syncErr = await sync;
    expect(syncErr.code).toBe(ErrorCode.ConnectionClosed);

    // While it is down, calls fail with a typed error instead of hanging.
    expect((await transportError(t.requestVote('peer', peer.addr, voteReq()))).code).toBe(ErrorCode.PeerUnreachable);

    const back = await startChildPeer(peer.port, 'echo');
    cleanup.push(() => back.kill());
    await expect(t.requestVote('peer', back.addr, voteReq({ term: 3 }))).resolves.toMatchObject({ term: 3 });
    const p2 = await t.appendEntriesPipeline('peer', back.addr);
    const f = await p2.appendEntries(appendReq({ prevLogEntry: 7, entries: [entry(8)] }));
    await expect(f.wait()).resolves.toMatchObject({ lastLog: 8 });
    await p2.close();
  });

  it('peer killed mid-snapshot: the sender fails promptly with a typed error', async () => {
    const peer = await startChildPeer(0, 'echo');
    cleanup.push(() => peer.kill());
    const t = await transport();
    const size = 512 * 1024 * 1024; // far more than is sent before the kill
    let sent = 0;
    let killed: Promise<void> | undefined;
    async function* source(): AsyncGenerator<Uint8Array> {
      for await (const chunk of pseudoRandom(size, 256 * 1024)) {
        sent += chunk.length;
        if (sent > 8 * 1024 * 1024 && killed === undefined) killed = peer.kill();
        yield chunk;
      }
    }
    const err = await transportError(t.installSnapshot('peer', peer.addr, snapshotReq(size), source()));
    await killed;
    expect([ErrorCode.ConnectionClosed, ErrorCode.PeerUnreachable]).toContain(err.code);
    expect(sent).toBeLessThan(size);
  });

  it('black-holed peer: calls and pipelines time out, and close() still completes', async () => {
    const hole = await blackHole();
    const t = await transport({ timeout: 200 });
    const err = await transportError(t.appendEntries('x', hole.addr, appendReq()));
    expect(err.code).toBe(ErrorCode.RpcTimeout);
    const p = await t.appendEntriesPipeline('x', hole.addr);
    const f = await p.appendEntries(appendReq());
    // A future its peer never answered times out (issue 14); the cause says the pipeline closed.
    await expect(f.wait()).rejects.toMatchObject({ code: ErrorCode.RpcTimeout });
    expect((f.error as { cause?: { code?: string } }).cause?.code).toBe(ErrorCode.PipelineShutdown);
    await expect(p.appendEntries(appendReq())).rejects.toMatchObject({ code: ErrorCode.PipelineShutdown });
    const pending = t.requestVote('x', hole.addr, voteReq(), { timeout: 60_000 }).catch((e: unknown) => e);
    await t.close();
    expect(isTransportError(await pending)).toBe(true);
  });

  it('a consumer that answers with the wrong shape gets a clear error, and so does the caller', async () => {
    const a = await transport();
    const b = await transport();
    const thrown: unknown[] = [];
    void serve(b, (rpc: RPC) => {
      if (rpc.type !== RpcType.AppendEntries) return echoResponder(rpc);
      try {
        // A RequestVote answer to an AppendEntries: lastLog and friends are missing.
        rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: 1, granted: true } as never);
      } catch (err) {
        thrown.push(err);
      }
    });
    const err = await transportError(a.appendEntries('b', b.localAddr(), appendReq()));
    expect(err.code).toBe(ErrorCode.Remote);
    expect(err.message).toMatch(/invalid AppendEntries response/);
    expect(thrown).toHaveLength(1);
    expect(isTransportError(thrown[0], ErrorCode.InvalidValue)).toBe(true);
    // The connection and transport remain healthy.
    await expect(a.requestVote('b', b.localAddr(), voteReq({ term: 4 }))).resolves.toMatchObject({ term: 4 });
  });

  it('close() during every kind of in-flight work leaves no sockets, servers or timers', async () => {
    const socketsBefore = sockets();
    const timersBefore = timers();
    const a = await newTCPTransport('127.0.0.1:0', { timeout: 60_000 });
    const b = await newTCPTransport('127.0.0.1:0', { timeout: 60_000 });
    const hole = await blackHole();
    let firstRpc: (() => void) | undefined;
    const got = new Promise<void>((r) => (firstRpc = r));
    void serve(b, () => firstRpc?.()); // takes RPCs, never answers
    const work: Array<Promise<unknown>> = [];
    const settle = (p: Promise<unknown>) =>
      work.push(
        p.then(
          () => 'resolved',
          (e: unknown) => e,
        ),
      );
    settle(a.appendEntries('b', b.localAddr(), appendReq()));
    settle(a.requestVote('b', b.localAddr(), voteReq()));
    settle(a.requestVote('hole', hole.addr, voteReq()));
    settle(a.installSnapshot('b', b.localAddr(), snapshotReq(64 * 1024 * 1024), pseudoRandom(64 * 1024 * 1024)));
    const p = await a.appendEntriesPipeline('b', b.localAddr());
    for (let i = 0; i < 10; i++) {
      const f = await p.appendEntries(appendReq({ prevLogEntry: i }));
      settle(f.wait());
    }
    const blocked = await a.appendEntriesPipeline('hole', hole.addr);
    settle(blocked.appendEntries(appendReq()).then((f) => f.wait()));
    await got;
    await Promise.all([a.close(), b.close()]);
    const results = await Promise.all(work);
    for (const r of results) expect(isTransportError(r), String(r)).toBe(true);
    for (const s of hole.sockets) s.destroy();
    for (const fn of cleanup.splice(0).reverse()) await fn();
    await handlesReleased(); // the test's own black hole closed just now
    expect(sockets(), JSON.stringify(process.getActiveResourcesInfo())).toBeLessThanOrEqual(socketsBefore);
    expect(timers(), JSON.stringify(process.getActiveResourcesInfo())).toBeLessThanOrEqual(timersBefore);
  });
});
