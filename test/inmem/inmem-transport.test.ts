import { afterEach, describe, expect, it } from 'vitest';
import { RpcType } from '../../src/commands.ts';
import { ErrorCode } from '../../src/errors.ts';
import { InmemTransport } from '../../src/inmem/inmem-transport.ts';
import type { AppendFuture, RPC } from '../../src/transport.ts';
import { appendReq, echoResponder, heartbeatReq, serve, voteReq } from '../helpers/fixtures.ts';
import { transportError } from '../helpers/expect-errors.ts';

const open: InmemTransport[] = [];
function make(addr?: string, opts?: ConstructorParameters<typeof InmemTransport>[1]): InmemTransport {
  const t = new InmemTransport(addr, opts);
  open.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

describe('InmemTransport', () => {
  it('generates an address when none is given and keeps a given one', () => {
    expect(make().localAddr()).toMatch(/^[0-9a-f-]{36}$/);
    expect(make('').localAddr()).not.toBe('');
    expect(make('node-a').localAddr()).toBe('node-a');
    expect(new InmemTransport().timeout).toBe(500);
  });

  it('routes one way only: connect(a→b) does not let b reach a', async () => {
    const a = make('a');
    const b = make('b');
    a.connect('b', b);
    void serve(a);
    void serve(b);
    await expect(a.requestVote('b', 'b', voteReq())).resolves.toMatchObject({ term: 11 });
    expect(await transportError(b.requestVote('a', 'a', voteReq()))).toMatchObject({ code: ErrorCode.PeerUnreachable });
    a.disconnect('b');
    expect(await transportError(a.requestVote('b', 'b', voteReq()))).toMatchObject({ code: ErrorCode.PeerUnreachable });
  });

  it('refuses to connect to a transport of another kind', () => {
    const a = make('a');
    expect(() => a.connect('x', {} as never)).toThrow(TypeError);
  });

  it('disconnect closes pipelines to that peer, failing every pending future', async () => {
    const a = make('a');
    const b = make('b');
    const c = make('c');
    a.connect('b', b);
    a.connect('c', c);
    void serve(b, () => {
      // holds every RPC
    });
    void serve(c);
    const toB = await a.appendEntriesPipeline('b', 'b');
    const toC = await a.appendEntriesPipeline('c', 'c');
    const pending: AppendFuture[] = [];
    for (let i = 0; i < 5; i++) pending.push(await toB.appendEntries(appendReq({ prevLogEntry: i })));
    a.disconnect('b');
    const delivered: AppendFuture[] = [];
    for await (const f of toB.consumer()) delivered.push(f);
    expect(delivered).toEqual(pending);
    for (const f of pending) expect((f.error as { code?: string }).code).toBe(ErrorCode.PipelineShutdown);
    expect(await transportError(toB.appendEntries(appendReq()))).toMatchObject({ code: ErrorCode.PipelineShutdown });
    // The pipeline to c is untouched.
    const f = await toC.appendEntries(appendReq({ prevLogEntry: 1 }));
    expect(await f.wait()).toMatchObject({ lastLog: 3 });
    a.disconnectAll();
    expect(await transportError(toC.appendEntries(appendReq()))).toMatchObject({ code: ErrorCode.PipelineShutdown });
  });

  it('says "send timed out" while the RPC waits for room, "command timed out" once taken', async () => {
    const a = make('a');
    const b = make('b', { queueCapacity: 1 });
    a.connect('b', b);
    const first = transportError(a.requestVote('b', 'b', voteReq(), { timeout: 30 }));
    const second = transportError(a.requestVote('b', 'b', voteReq(), { timeout: 30 }));
    expect(await first).toMatchObject({ code: ErrorCode.RpcTimeout, message: expect.stringContaining('command timed out') });
    expect(await second).toMatchObject({ code: ErrorCode.RpcTimeout, message: expect.stringContaining('send timed out') });
  });

  it('never hands the consumer an RPC whose caller already gave up', async () => {
    const a = make('a');
    const b = make('b');
    a.connect('b', b);
    const ac = new AbortController();
    const gaveUp = transportError(a.requestVote('b', 'b', voteReq({ term: 1 }), { signal: ac.signal }));
    ac.abort();
    expect(await gaveUp).toMatchObject({ code: ErrorCode.Aborted });
    const live = a.requestVote('b', 'b', voteReq({ term: 2 }));
    const seen: RPC[] = [];
    for await (const rpc of b.consumer()) {
      seen.push(rpc);
      await echoResponder(rpc);
      break;
    }
    expect(seen.map((r) => (r.type === RpcType.RequestVote ? r.command.term : -1))).toEqual([2]);
    await expect(live).resolves.toMatchObject({ term: 2 });
  });

  it('lets a late answer after a timeout pass silently', async () => {
    const a = make('a');
    const b = make('b');
    a.connect('b', b);
    const call = transportError(a.requestVote('b', 'b', voteReq(), { timeout: 20 }));
    const it = b.consumer()[Symbol.asyncIterator]();
    const rpc = (await it.next()).value as RPC;
    expect(await call).toMatchObject({ code: ErrorCode.RpcTimeout });
    expect(() => echoResponder(rpc)).not.toThrow();
  });

  it('fails calls to a peer that shut down with ERR_PEER_UNREACHABLE', async () => {
    const a = make('a');
    const b = make('b');
    a.connect('b', b);
    await b.close();
    expect(await transportError(a.requestVote('b', 'b', voteReq()))).toMatchObject({ code: ErrorCode.PeerUnreachable });
    expect(await transportError(a.appendEntriesPipeline('b', 'nope'))).toMatchObject({ code: ErrorCode.PeerUnreachable });
  });

  it('passes heartbeats from a pipeline to the heartbeat handler too', async () => {
    const a = make('a');
    const b = make('b');
    a.connect('b', b);
    let handled = 0;
    b.setHeartbeatHandler((rpc) => {
      handled++;
      rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: rpc.command.term, lastLog: 0, success: true, noRetryBackoff: true });
    });
    const p = await a.appendEntriesPipeline('b', 'b');
    const f = await p.appendEntries({ ...appendReq(), prevLogEntry: 0, prevLogTerm: 0, entries: [], leaderCommitIndex: 0 });
    expect(await f.wait()).toMatchObject({ noRetryBackoff: true });
    expect(handled).toBe(1);
  });

  it('delivers a pipelined heartbeat answered synchronously by the handler (defect 8)', async () => {
    // timeout 0: nothing expires, so a lost answer would never come back.
    const a = make('a', { timeout: 0, maxRPCsInFlight: 2 });
    const b = make('b');
    a.connect('b', b);
    b.setHeartbeatHandler((rpc) =>
      rpc.respond({
        rpcHeader: { protocolVersion: 3 },
        term: rpc.command.term,
        lastLog: 0,
        success: true,
        noRetryBackoff: false,
      }),
    );
    const p = await a.appendEntriesPipeline('b', 'b');
    const it = p.consumer()[Symbol.asyncIterator]();
    const terms: number[] = [];
    for (let term = 1; term <= 10; term++) {
      // With a window of 2, the third send only gets a slot if the answers reached the consumer.
      const f = await p.appendEntries(heartbeatReq(term), { timeout: 1_000 });
      const next = (await it.next()).value as AppendFuture;
      expect(next).toBe(f);
      terms.push((await next.wait()).term);
    }
    expect(terms).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await p.close();
  });

  it('cluster() builds a fully connected cluster whose members know their IDs', async () => {
    const nodes = InmemTransport.cluster(['a', 'b', 'c'], { timeout: 1_000 });
    open.push(...nodes);
    const [a, b, c] = nodes;
    for (const n of nodes)
      void serve(n, (rpc) => {
        if (rpc.type === RpcType.RequestVote)
          rpc.respond({ rpcHeader: rpc.command.rpcHeader, term: rpc.command.term, granted: true });
      });
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        const vote = await from.requestVote(to.localAddr(), to.localAddr(), voteReq({ rpcHeader: { protocolVersion: 3 } }));
        expect(new TextDecoder().decode(vote.rpcHeader.id ?? new Uint8Array())).toBe(from.localAddr());
      }
    }
    expect([a.localAddr(), b.localAddr(), c.localAddr()]).toEqual(['a', 'b', 'c']);
    expect(a.maxRPCsInFlight).toBe(64);
    expect(new InmemTransport(undefined, { maxInFlight: 8 }).maxRPCsInFlight).toBe(8); // the deprecated name still works
  });

  it("gives every RPC the caller's address as rpc.remote, pipelined ones included", async () => {
    const [a, b] = InmemTransport.cluster(['a', 'b']);
    open.push(a, b);
    const remotes: string[] = [];
    b.setHeartbeatHandler((rpc) => {
      remotes.push(`hb:${rpc.remote}`);
      void echoResponder(rpc);
    });
    void serve(b, (rpc) => {
      remotes.push(rpc.remote);
      return echoResponder(rpc);
    });
    await a.requestVote('b', 'b', voteReq());
    await a.appendEntries('b', 'b', heartbeatReq(2));
    const p = await a.appendEntriesPipeline('b', 'b');
    await (await p.appendEntries(appendReq())).wait();
    await p.close();
    expect(remotes).toEqual(['a', 'hb:a', 'a']);
  });

  it('logs a throwing heartbeat handler locally and tells the caller only that it failed', async () => {
    const logged: Array<{ obj: object; msg: string }> = [];
    const warn = (obj: object, msg: string) => logged.push({ obj, msg });
    const a = make('a');
    const b = make('b', { logger: { debug: () => {}, info: () => {}, warn, error: warn } });
    a.connect('b', b);
    const boom = new Error('disk on fire');
    b.setHeartbeatHandler(() => {
      throw boom;
    });
    const err = await transportError(a.appendEntries('b', 'b', heartbeatReq(3)));
    expect(err).toMatchObject({ code: ErrorCode.Remote, remoteMessage: 'heartbeat handler failed' });
    expect(logged).toEqual([{ obj: { err: boom, remote: 'a' }, msg: 'raft-inmem: heartbeat handler threw' }]);
  });
});
