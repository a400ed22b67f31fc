/**
 * The behaviour every Transport must show, whatever carries the bytes.
 * Each implementation's test file calls `runTransportConformance` with a
 * factory; the same assertions then run over memory and over real TCP.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcType } from '../../src/commands.ts';
import { ErrorCode, isTransportError } from '../../src/errors.ts';
import { appendEntriesRequest, heartbeat, PROTOCOL_VERSION, timeoutNowRequest } from '../../src/builders.ts';
import type { AppendFuture, RPC, Transport } from '../../src/transport.ts';
import {
  activeTimers,
  allBytes,
  appendReq,
  crcOf,
  echoResponder,
  enc,
  entry,
  heartbeatReq,
  preVoteReq,
  pseudoRandom,
  serve,
  snapshotReq,
  timeoutNowReq,
  voteReq,
} from '../helpers/fixtures.ts';
import { expectCode, observed, rejection } from '../helpers/expect-errors.ts';

export interface Cluster {
  transports: Transport[];
  /** Closes every transport still open. */
  close(): Promise<void>;
}

export interface ClusterOptions {
  /** Default call timeout for the transports, ms. */
  timeout?: number;
  /** Pipeline window (`maxRPCsInFlight`); absent: the transport's default. */
  maxInFlight?: number;
  /** `localID` of each transport, by position. */
  localIDs?: string[];
}

export interface TransportFactory {
  name: string;
  /** n transports, each able to reach every other by its localAddr(). */
  makeCluster(n: number, opts?: ClusterOptions): Promise<Cluster>;
  /** An address that nothing answers at. */
  unreachableAddr(): Promise<string> | string;
  /** True when responses are the very objects the consumer passed (no serialisation). */
  sameObjects: boolean;
}

/** Resolves with the next RPC the transport's consumer yields. */
async function nextRpc(t: Transport): Promise<RPC> {
  const it = t.consumer()[Symbol.asyncIterator]();
  const r = await it.next();
  if (r.done) throw new Error('consumer ended');
  return r.value;
}

export function runTransportConformance(factory: TransportFactory): void {
  describe(`Transport conformance: ${factory.name}`, () => {
    let cluster: Cluster | undefined;
    const make = async (n: number, opts?: ClusterOptions) => {
      cluster = await factory.makeCluster(n, opts);
      return cluster.transports;
    };
    afterEach(async () => {
      await cluster?.close();
      cluster = undefined;
    });

    it('round-trips every RPC type with the bytes intact', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      void serve(b);
      const target = b.localAddr();

      const ae = appendReq();
      const aeResp = await a.appendEntries('b', target, ae);
      expect(aeResp).toMatchObject({ term: 10, lastLog: 102, success: true, noRetryBackoff: false });
      expect(aeResp.rpcHeader.id).toEqual(enc('follower'));

      const vote = await a.requestVote('b', target, voteReq({ leadershipTransfer: true, candidate: allBytes() }));
      expect(vote).toMatchObject({ term: 11, granted: true });
      expect(vote.peers).toEqual(allBytes());

      const pre = await a.requestPreVote('b', target, preVoteReq());
      expect(pre).toMatchObject({ term: 13, granted: true });

      const tn = await a.timeoutNow('b', target, timeoutNowReq());
      expect(tn.rpcHeader.id).toEqual(enc('leader-1'));

      const size = 300_000;
      const snap = await a.installSnapshot('b', target, snapshotReq(size), pseudoRandom(size, 7_001));
      expect(snap.term).toBe(await crcOf(pseudoRandom(size, 7_001)));
      expect(snap.success).toBe(true);
    });

    it('delivers the command and response exactly as given', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      const sent = appendReq({ entries: [entry(1, allBytes()), entry(2, new Uint8Array(0)), entry(3, null)] });
      const reply = {
        rpcHeader: { protocolVersion: 3, id: allBytes(), addr: null },
        term: 2 ** 53 - 1,
        lastLog: 2 ** 53 - 2,
        success: true,
        noRetryBackoff: true,
      };
      const pending = observed(a.appendEntries('b', b.localAddr(), sent));
      const rpc = await nextRpc(b);
      expect(rpc.type).toBe(RpcType.AppendEntries);
      if (rpc.type !== RpcType.AppendEntries) throw new Error('unreachable');
      expect(rpc.command).toEqual(sent);
      const entries = rpc.command.entries ?? [];
      expect(entries[1]?.data).toEqual(new Uint8Array(0));
      expect(entries[2]?.data).toBeNull();
      rpc.respond(reply);
      const got = await pending;
      expect(got).toEqual(reply);
      if (factory.sameObjects) {
        expect(rpc.command).toBe(sent);
        expect(got).toBe(reply);
      }
    });

    it('turns a consumer error into ERR_REMOTE with the message intact', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      void serve(b, (rpc) => rpc.respond(null, new Error('log not found: 42')));
      const err = await rejection(a.appendEntries('b', b.localAddr(), appendReq()));
      expectCode(err, ErrorCode.Remote);
      expect((err as { remoteMessage: string }).remoteMessage).toBe('log not found: 42');
      // The peer is still usable afterwards.
      const err2 = await rejection(a.requestVote('b', b.localAddr(), voteReq()));
      expectCode(err2, ErrorCode.Remote);
    });

    it('answers respond(null) with ERR_REMOTE, not a zero-valued response', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      // An empty error string is no error: respond(null, '') is respond(null).
      void serve(b, (rpc) => (rpc.type === RpcType.TimeoutNow ? rpc.respond(null, '') : rpc.respond(null)));
      // All four are in flight at once and may fail in any order: take each
      // rejection as it comes, not when the loop reaches it.
      const rejections = [
        a.appendEntries('b', b.localAddr(), appendReq()),
        a.requestVote('b', b.localAddr(), voteReq()),
        a.requestPreVote('b', b.localAddr(), preVoteReq()),
        a.timeoutNow('b', b.localAddr(), timeoutNowReq()),
      ].map(rejection);
      for (const err of await Promise.all(rejections)) {
        expectCode(err, ErrorCode.Remote);
        expect((err as { remoteMessage: string }).remoteMessage).toBe('the peer answered with neither a response nor an error');
      }
    });

    it('refuses a second response with ERR_ALREADY_RESPONDED, keeping the first', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      const pending = observed(a.timeoutNow('b', b.localAddr(), timeoutNowReq()));
      const rpc = await nextRpc(b);
      if (rpc.type !== RpcType.TimeoutNow) throw new Error('wrong type');
      rpc.respond({ rpcHeader: { protocolVersion: 1 } });
      let second: unknown;
      try {
        rpc.respond({ rpcHeader: { protocolVersion: 2 } });
      } catch (err) {
        second = err;
      }
      expectCode(second, ErrorCode.AlreadyResponded);
      expect((await pending).rpcHeader.protocolVersion).toBe(1);
    });

    it('routes heartbeats to the heartbeat handler and everything else to the consumer', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      const viaHandler: number[] = [];
      b.setHeartbeatHandler((rpc) => {
        viaHandler.push(rpc.command.term);
        rpc.respond({
          rpcHeader: { protocolVersion: 3 },
          term: rpc.command.term,
          lastLog: 0,
          success: true,
          noRetryBackoff: true,
        });
      });
      const viaConsumer: number[] = [];
      void serve(b, (rpc) => {
        if (rpc.type === RpcType.AppendEntries) viaConsumer.push(rpc.command.term);
        rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: 0, lastLog: 0, success: true, noRetryBackoff: false } as never);
      });
      const hb = await a.appendEntries('b', b.localAddr(), heartbeatReq(21));
      expect(hb.noRetryBackoff).toBe(true);
      await a.appendEntries('b', b.localAddr(), appendReq({ term: 22 }));
      // A term of zero is not a heartbeat.
      await a.appendEntries('b', b.localAddr(), heartbeatReq(0));
      b.setHeartbeatHandler(null);
      const hb2 = await a.appendEntries('b', b.localAddr(), heartbeatReq(23));
      expect(hb2.noRetryBackoff).toBe(false);
      expect(viaHandler).toEqual([21]);
      expect(viaConsumer).toEqual([22, 0, 23]);
    });

    it('tells the consumer and the heartbeat handler who sent each RPC (rpc.remote)', async () => {
      const [a, b, c] = (await make(3)) as [Transport, Transport, Transport];
      const viaHandler: string[] = [];
      b.setHeartbeatHandler((rpc) => {
        viaHandler.push(rpc.remote);
        void echoResponder(rpc);
      });
      const viaConsumer: string[] = [];
      void serve(b, (rpc) => {
        viaConsumer.push(rpc.remote);
        return echoResponder(rpc);
      });
      await a.requestVote('b', b.localAddr(), voteReq());
      await a.appendEntries('b', b.localAddr(), heartbeatReq(5));
      await c.requestVote('b', b.localAddr(), voteReq());
      await c.appendEntries('b', b.localAddr(), heartbeatReq(5));
      expect(viaConsumer).toHaveLength(2);
      expect(viaHandler).toHaveLength(2);
      for (const remote of [...viaConsumer, ...viaHandler]) {
        expect(typeof remote).toBe('string');
        expect(remote).not.toBe('');
        expect(remote).not.toBe(b.localAddr());
      }
      // Two callers are told apart.
      expect(viaConsumer[0]).not.toBe(viaConsumer[1]);
      expect(viaHandler[0]).not.toBe(viaHandler[1]);
    });

    it('answers a throwing heartbeat handler with a generic error, never its text', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      b.setHeartbeatHandler(() => {
        throw new Error('secret: /var/lib/raft/db is corrupt');
      });
      const err = await rejection(a.appendEntries('b', b.localAddr(), heartbeatReq(4)));
      expectCode(err, ErrorCode.Remote);
      expect((err as { remoteMessage: string }).remoteMessage).toBe('heartbeat handler failed');
      expect(String((err as Error).message)).not.toContain('secret');
      // The peer still serves afterwards.
      b.setHeartbeatHandler((rpc) => void echoResponder(rpc));
      expect((await a.appendEntries('b', b.localAddr(), heartbeatReq(4))).term).toBe(4);
    });

    it('streams a snapshot without the caller or consumer holding it whole', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      const size = 4 * 1024 * 1024 + 17;
      void serve(b, async (rpc) => {
        if (rpc.type !== RpcType.InstallSnapshot) throw new Error('unexpected');
        const h = createHash('sha256');
        let n = 0;
        for await (const chunk of rpc.reader) {
          h.update(chunk as Uint8Array);
          n += (chunk as Uint8Array).length;
        }
        rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: n, success: h.digest('hex') === expected });
      });
      const h = createHash('sha256');
      for await (const c of pseudoRandom(size, 65_536, 3)) h.update(c);
      const expected = h.digest('hex');
      const resp = await a.installSnapshot('b', b.localAddr(), snapshotReq(size), pseudoRandom(size, 65_536, 3));
      expect(resp).toMatchObject({ term: size, success: true });
    });

    it('rejects snapshot data that disagrees with the declared size', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      void serve(b, async (rpc) => {
        if (rpc.type === RpcType.InstallSnapshot) {
          for await (const _ of rpc.reader) {
            // drain
          }
        }
        rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: 1, success: true } as never);
      });
      const short = await rejection(
        a.installSnapshot('b', b.localAddr(), snapshotReq(1000), [new Uint8Array(10)], { timeout: 5_000 }),
      );
      expect(isTransportError(short)).toBe(true);
    });

    it('keeps a pipeline in order and answers each request', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      void serve(b);
      const p = await a.appendEntriesPipeline('b', b.localAddr());
      const n = 500;
      const seen: AppendFuture[] = [];
      const consumed = (async () => {
        for await (const f of p.consumer()) {
          seen.push(f);
          if (seen.length === n) break;
        }
      })();
      for (let i = 0; i < n; i++) {
        const f = await p.appendEntries(appendReq({ prevLogEntry: i * 10, entries: [entry(i * 10 + 1)] }));
        expect(f.request.prevLogEntry).toBe(i * 10);
      }
      await consumed;
      expect(seen.map((f) => f.request.prevLogEntry)).toEqual(Array.from({ length: n }, (_, i) => i * 10));
      for (const f of seen) {
        expect(f.error).toBeUndefined();
        expect(f.response?.lastLog).toBe(f.request.prevLogEntry + 1);
        expect(await f.wait()).toBe(f.response);
        expect(typeof f.start).toBe('number');
      }
      await p.close();
    });

    it('applies back-pressure at the in-flight limit', async () => {
      const limit = 4;
      const [a, b] = (await make(2, { maxInFlight: limit })) as [Transport, Transport];
      const held: RPC[] = [];
      let answering = false;
      let release: (() => void) | undefined;
      const first = new Promise<void>((r) => (release = r));
      void serve(b, (rpc) => {
        if (answering) return echoResponder(rpc);
        held.push(rpc);
        release?.();
      });
      const p = await a.appendEntriesPipeline('b', b.localAddr());
      const futures: AppendFuture[] = [];
      for (let i = 0; i < limit; i++) futures.push(await p.appendEntries(appendReq({ prevLogEntry: i })));
      await first;
      // The window is full: the next send waits, and gives up at its own deadline.
      const blocked = await rejection(p.appendEntries(appendReq({ prevLogEntry: 99 }), { timeout: 30 }));
      expectCode(blocked, ErrorCode.RpcTimeout);
      const ac = new AbortController();
      const aborted = p.appendEntries(appendReq({ prevLogEntry: 98 }), { signal: ac.signal });
      ac.abort(new Error('stop'));
      expectCode(await rejection(aborted), ErrorCode.Aborted);

      // Answer everything the server sees; consuming futures frees slots.
      answering = true;
      for (const rpc of held.splice(0)) await echoResponder(rpc);
      const consumed: number[] = [];
      const it = p.consumer()[Symbol.asyncIterator]();
      for (let i = 0; i < limit; i++) consumed.push(((await it.next()).value as AppendFuture).request.prevLogEntry);
      expect(consumed).toEqual([0, 1, 2, 3]);
      const next = await p.appendEntries(appendReq({ prevLogEntry: 5 }));
      expect((await it.next()).value).toBe(next);
      expect(next.response?.lastLog).toBe(5 + 2);
      await p.close();
    });

    it('settles every pending future with an error when the peer goes away mid-pipeline', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      const got: RPC[] = [];
      let gotOne: (() => void) | undefined;
      const seenOne = new Promise<void>((r) => (gotOne = r));
      void serve(b, (rpc) => {
        got.push(rpc); // never answered
        gotOne?.();
      });
      const p = await a.appendEntriesPipeline('b', b.localAddr());
      const futures: AppendFuture[] = [];
      for (let i = 0; i < 8; i++) futures.push(await p.appendEntries(appendReq({ prevLogEntry: i })));
      await seenOne;
      await b.close();
      const delivered: AppendFuture[] = [];
      for await (const f of p.consumer()) delivered.push(f);
      expect(delivered.map((f) => f.request.prevLogEntry)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      for (const f of futures) {
        expect(f.error).toBeDefined();
        expect(isTransportError(f.error)).toBe(true);
        await expect(f.wait()).rejects.toBe(f.error);
      }
      await expect(p.appendEntries(appendReq())).rejects.toSatisfy((e) => isTransportError(e));
      await p.close();
    });

    it('times out a call whose consumer never answers', async () => {
      const [a, b] = (await make(2, { timeout: 5_000 })) as [Transport, Transport];
      void serve(b, () => {
        // never answers
      });
      const err = await rejection(a.requestVote('b', b.localAddr(), voteReq(), { timeout: 40 }));
      expectCode(err, ErrorCode.RpcTimeout);
    });

    it('aborts calls through an AbortSignal, before and during the call', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      void serve(b, () => {
        // never answers
      });
      const pre = AbortSignal.abort(new Error('gone'));
      expectCode(await rejection(a.requestVote('b', b.localAddr(), voteReq(), { signal: pre })), ErrorCode.Aborted);
      const ac = new AbortController();
      const during = a.appendEntries('b', b.localAddr(), appendReq(), { signal: ac.signal, timeout: 60_000 });
      ac.abort();
      const err = await rejection(during);
      expectCode(err, ErrorCode.Aborted);
    });

    it('fails fast for an address nobody serves', async () => {
      const [a] = (await make(1)) as [Transport];
      const err = await rejection(a.requestVote('x', await factory.unreachableAddr(), voteReq(), { timeout: 5_000 }));
      expectCode(err, ErrorCode.PeerUnreachable);
    });

    it('closes with work pending: every promise settles and no timers remain', async () => {
      const timersBefore = activeTimers();
      const [a, b] = (await make(2, { timeout: 60_000 })) as [Transport, Transport];
      const got: RPC[] = [];
      let n = 0;
      let three: (() => void) | undefined;
      const threeSeen = new Promise<void>((r) => (three = r));
      const loop = serve(b, (rpc) => {
        got.push(rpc);
        if (++n === 1) three?.();
      });
      // allSettled attaches handlers now, so rejections during close() are observed.
      const calls = Promise.allSettled([
        a.appendEntries('b', b.localAddr(), appendReq()),
        a.requestVote('b', b.localAddr(), voteReq()),
        a.timeoutNow('b', b.localAddr(), timeoutNowReq()),
      ]);
      const p = await a.appendEntriesPipeline('b', b.localAddr());
      const f = await p.appendEntries(appendReq());
      const fDone = f.wait().then(
        () => undefined,
        (e: unknown) => e,
      );
      await threeSeen;
      await a.close();
      const results = await calls;
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect(isTransportError((r as PromiseRejectedResult).reason)).toBe(true);
      }
      expect(isTransportError(await fDone)).toBe(true);
      // Answering after the caller went away is harmless.
      for (const rpc of got) rpc.respond(null, 'late');
      expectCode(await rejection(a.requestVote('b', b.localAddr(), voteReq())), ErrorCode.TransportShutdown);
      await b.close();
      await loop; // the consumer iteration ends on close
      expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
    });

    it('supports an all-to-all three-node cluster', async () => {
      const ts = await make(3);
      for (const t of ts) void serve(t);
      const results = await Promise.all(
        ts.flatMap((from, i) =>
          ts
            .filter((to) => to !== from)
            .map((to) => from.appendEntries(`n${i}`, to.localAddr(), appendReq({ term: i + 1, entries: [] }))),
        ),
      );
      expect(results).toHaveLength(6);
      expect(results.map((r) => r.term).sort()).toEqual([1, 1, 2, 2, 3, 3]);
    });

    it('handles a concurrent vote fan-out like electSelf', async () => {
      const ts = await make(5);
      const [candidate, ...voters] = ts as [Transport, ...Transport[]];
      voters.forEach(
        (v, i) =>
          void serve(v, (rpc) => {
            if (rpc.type !== RpcType.RequestVote) throw new Error('unexpected');
            rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: rpc.command.term, granted: i % 2 === 0 });
          }),
      );
      const votes = await Promise.allSettled(
        voters.map((v, i) => candidate.requestVote(`v${i}`, v.localAddr(), voteReq({ term: 77 }))),
      );
      const granted = votes.filter((v) => v.status === 'fulfilled' && v.value.granted).length;
      expect(votes.every((v) => v.status === 'fulfilled' && v.value.term === 77)).toBe(true);
      expect(granted).toBe(2);
    });

    it('serves many concurrent callers from one consumer', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      void serve(b);
      const calls = Array.from({ length: 200 }, (_, i) =>
        a.appendEntries('b', b.localAddr(), appendReq({ prevLogEntry: i, entries: [entry(i + 1)] })),
      );
      const out = await Promise.all(calls);
      expect(out.map((r) => r.lastLog)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    });

    it('never loses an RPC to a select-style loop racing receive() against a timer (defect 9)', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      const stop = new AbortController();
      let timeouts = 0;
      let onTimeout: (() => void) | undefined;
      const timedOut = () => new Promise<void>((r) => (onTimeout = r));
      // Go: for { select { case rpc := <-rpcCh: handle(rpc); case <-time.After(1ms): tick() } }
      const loop = (async () => {
        for (;;) {
          let rpc: RPC | undefined;
          try {
            rpc = await b.receive({ timeout: 1, signal: stop.signal });
          } catch (err) {
            if (isTransportError(err, ErrorCode.Aborted)) return;
            throw err;
          }
          if (rpc === undefined) {
            timeouts++;
            onTimeout?.();
            continue;
          }
          await echoResponder(rpc);
        }
      })();
      const lastLogs: number[] = [];
      for (let burst = 0; burst < 40; burst++) {
        const tick = timedOut();
        const calls = Array.from({ length: 8 }, (_, i) =>
          a.appendEntries('b', b.localAddr(), appendReq({ prevLogEntry: burst * 8 + i, entries: [] }), { timeout: 10_000 }),
        );
        for (const r of await Promise.all(calls)) lastLogs.push(r.lastLog);
        await tick; // a wait gave up between bursts, so the next burst meets a fresh wait
      }
      stop.abort();
      await loop;
      expect(lastLogs).toEqual(Array.from({ length: 320 }, (_, i) => i));
      expect(timeouts).toBeGreaterThanOrEqual(40);
    });

    it('ends a consumer({ signal }) iteration on abort without taking an RPC (defect 9)', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      // A consumer loop restarted per timer, like a follower resetting its heartbeat timer.
      let rounds = 0;
      let answered = 0;
      const stop = new AbortController();
      const loop = (async () => {
        while (!stop.signal.aborted) {
          rounds++;
          const round = AbortSignal.any([stop.signal, AbortSignal.timeout(1)]);
          for await (const rpc of b.consumer({ signal: round })) {
            await echoResponder(rpc);
            answered++;
          }
        }
      })();
      const calls: Array<Promise<unknown>> = [];
      for (let i = 0; i < 100; i++) {
        calls.push(a.requestVote('b', b.localAddr(), voteReq({ term: i }), { timeout: 10_000 }));
        if (i % 10 === 9) await Promise.all(calls);
      }
      const votes = (await Promise.all(calls)) as Array<{ term: number }>;
      expect(votes.map((v) => v.term)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      stop.abort();
      await loop;
      expect(answered).toBe(100);
      expect(rounds).toBeGreaterThan(0);

      // A pending next() that is aborted ends the iteration; the RPC that comes next is still there.
      const ac = new AbortController();
      const it = b.consumer({ signal: ac.signal })[Symbol.asyncIterator]();
      const pending = it.next();
      ac.abort();
      expect(await pending).toEqual({ value: undefined, done: true });
      const call = observed(a.timeoutNow('b', b.localAddr(), timeoutNowReq(), { timeout: 10_000 }));
      const rpc = await b.receive();
      expect(rpc?.type).toBe(RpcType.TimeoutNow);
      if (rpc !== undefined) await echoResponder(rpc);
      await expect(call).resolves.toBeDefined();
    });

    it('receive(): undefined on timeout, ERR_ABORTED on abort, ERR_TRANSPORT_SHUTDOWN once closed', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      expect(await b.receive({ timeout: 1 })).toBeUndefined();
      expectCode(await rejection(b.receive({ signal: AbortSignal.abort(new Error('x')) })), ErrorCode.Aborted);
      const ac = new AbortController();
      const waiting = b.receive({ signal: ac.signal });
      ac.abort();
      expectCode(await rejection(waiting), ErrorCode.Aborted);
      // An already-queued RPC is taken at once.
      const call = observed(a.requestVote('b', b.localAddr(), voteReq({ term: 5 })));
      const rpc = await b.receive({ timeout: 4_000 });
      expect(rpc?.type).toBe(RpcType.RequestVote);
      if (rpc !== undefined) await echoResponder(rpc);
      expect((await call).term).toBe(5);
      const closing = rejection(b.receive());
      await b.close();
      expectCode(await closing, ErrorCode.TransportShutdown);
      expectCode(await rejection(b.receive()), ErrorCode.TransportShutdown);
    });

    it('refuses a pipeline window below 2 with ERR_NOT_SUPPORTED', async () => {
      const [a, b] = (await make(2, { maxInFlight: 1 })) as [Transport, Transport];
      expectCode(await rejection(a.appendEntriesPipeline('b', b.localAddr())), ErrorCode.NotSupported);
      // Plain calls still work: a leader falls back to one appendEntries at a time.
      void serve(b);
      expect((await a.appendEntries('b', b.localAddr(), appendReq())).success).toBe(true);
    });

    it('has a default pipeline window of 64', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      void serve(b, () => {
        // holds every RPC: nothing frees a slot
      });
      const p = await a.appendEntriesPipeline('b', b.localAddr());
      for (let i = 0; i < 64; i++) await p.appendEntries(appendReq({ prevLogEntry: i }));
      expectCode(await rejection(p.appendEntries(appendReq({ prevLogEntry: 64 }), { timeout: 20 })), ErrorCode.RpcTimeout);
      await p.close();
    });

    it('counts calls and pipelined requests in stats(), per peer and inbound', async () => {
      const [a, b] = (await make(2)) as [Transport, Transport];
      let n = 0;
      void serve(b, (rpc) => (++n === 2 ? rpc.respond(null, 'no') : echoResponder(rpc)));
      await a.requestVote('b', b.localAddr(), voteReq());
      await rejection(a.requestVote('b', b.localAddr(), voteReq()));
      const p = await a.appendEntriesPipeline('b', b.localAddr());
      const f = await p.appendEntries(appendReq());
      await f.wait();
      await p.close();
      const peer = a.stats().peers.find((s) => s.peer === b.localAddr());
      expect(peer).toMatchObject({ rpcsSent: 3, rpcsSucceeded: 2, rpcsFailed: 1, remoteErrors: 1, inFlight: 0 });
      expect(peer?.latency.count).toBe(2);
      expect(b.stats().inbound.rpcsReceived).toBe(3);
      expect(b.stats().inbound.protocolErrors).toBe(0);
    });

    it('fills rpcHeader.id and addr from the transport identity when the request leaves them out', async () => {
      const [a, b] = (await make(2, { localIDs: ['node-a', 'node-b'] })) as [Transport, Transport];
      const headers: Array<{ id?: Uint8Array | null; addr?: Uint8Array | null }> = [];
      void serve(b, (rpc) => {
        headers.push(rpc.command.rpcHeader);
        return echoResponder(rpc);
      });
      const bare = timeoutNowRequest();
      await a.timeoutNow('b', b.localAddr(), bare);
      expect(bare.rpcHeader).toEqual({ protocolVersion: PROTOCOL_VERSION }); // the caller's object is untouched
      // The builder sets addr from the leader; the transport adds the ID.
      await a.appendEntries('b', b.localAddr(), heartbeat({ term: 3, leader: 'leader-addr' }));
      // What the caller sets (null included) wins.
      await a.requestVote('b', b.localAddr(), voteReq({ rpcHeader: { protocolVersion: 3, id: enc('other'), addr: null } }));
      const p = await a.appendEntriesPipeline('b', b.localAddr());
      await (await p.appendEntries(appendEntriesRequest({ term: 1, leader: a.localAddr(), entries: [entry(1)] }))).wait();
      await p.close();
      expect(headers[0]).toMatchObject({ id: enc('node-a'), addr: enc(a.localAddr()) });
      expect(headers[1]).toMatchObject({ id: enc('node-a'), addr: enc('leader-addr') });
      expect(headers[2]?.id).toEqual(enc('other'));
      expect(headers[2]?.addr ?? null).toBeNull();
      expect(headers[3]).toMatchObject({ id: enc('node-a'), addr: enc(a.localAddr()) });
    });

    it('encodes and decodes peers', async () => {
      const [a] = (await make(1)) as [Transport];
      const buf = a.encodePeer('id-1', '127.0.0.1:8300');
      expect(a.decodePeer(buf)).toBe('127.0.0.1:8300');
    });
  });
}
