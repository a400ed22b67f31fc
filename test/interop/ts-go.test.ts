/**
 * Interop of OUR NetworkTransport with hashicorp/raft's, both ways, for each
 * of 1.1.2, 1.5.0 and 1.7.3:
 * (a) the Go client's scenarios against a TS server answering by the responder
 *     rules (go-peer.ts), and
 * (b) a TS client against the Go server (test/interop/peer), checking every
 *     answer by the same rules.
 *
 * Skipped, with a note, when Go or the raft sources are missing (and failing
 * instead when RAFT_TRANSPORT_REQUIRE_GO is set, as in CI).
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LogType, type AppendEntriesRequest, type Log, type RequestVoteRequest } from '../../src/commands.ts';
import { ErrorCode, isTransportError, PreVoteNotSupportedError } from '../../src/errors.ts';
import { newTCPTransport, type TCPTransportOptions } from '../../src/net/tcp-transport.ts';
import type { AppendFuture, Transport } from '../../src/transport.ts';
import {
  all256,
  appendRequest,
  chunked,
  crc32,
  deterministicHeartbeatHandler,
  expectedAppendResponse,
  GO_VERSIONS,
  goAvailable,
  heartbeatRequest,
  killAllGoProcesses,
  LEADER_ADDR,
  logEntry,
  MAX_SAFE,
  pseudoRandomBytes,
  runGoClient,
  serveDeterministically,
  startGoServer,
  type GoServer,
} from './go-peer.ts';

const go = goAvailable();
const skipReason = go.ok ? undefined : go.reason;
if (skipReason !== undefined) console.warn(`[interop] skipping TS <-> Go tests: ${skipReason}`);

const enc = new TextEncoder();
const TIMEOUT = 10_000;
const GO_ID = 'go-server';

afterAll(() => killAllGoProcesses());

// ---------------------------------------------------------------------------
describe.skipIf(skipReason !== undefined).each(GO_VERSIONS)('interop (a): Go %s client -> TS server', (version) => {
  beforeAll(async () => {});

  /** A TS server answering by the rules (heartbeats through a handler when asked) for the length of `fn`. */
  async function withTsServer(
    heartbeat: boolean,
    fn: (addr: string) => Promise<void>,
    opts: TCPTransportOptions = {},
  ): Promise<void> {
    const server = await newTCPTransport('127.0.0.1:0', { timeout: TIMEOUT, ...opts });
    const hbErrors: unknown[] = [];
    if (heartbeat) server.setHeartbeatHandler(deterministicHeartbeatHandler(hbErrors));
    const served = serveDeterministically(server);
    try {
      await fn(server.localAddr());
    } finally {
      await server.close();
      await served.done;
    }
    expect([...served.errors, ...hbErrors]).toEqual([]);
  }

  async function expectGoClientPasses(addr: string, scenario: string, args: string[] = []): Promise<void> {
    const r = await runGoClient(addr, scenario, args, { timeoutMs: 60_000, version });
    expect(r.code, `Go client ${scenario}: ${r.stderr}${r.timedOut ? ' (timed out)' : ''}`).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^PASS ${scenario === 'all' ? 'concurrent' : scenario} `, 'm'));
  }

  it.each(['append', 'vote', 'snapshot', 'timeoutnow', 'remote-error', 'large-ints', 'pipeline', 'concurrent'])(
    'Go scenario %s passes',
    async (scenario) => {
      await withTsServer(false, (addr) => expectGoClientPasses(addr, scenario));
    },
  );

  it('heartbeats through the TS heartbeat handler carry the fast-path marker', async () => {
    await withTsServer(true, (addr) => expectGoClientPasses(addr, 'heartbeat', ['-expect-fastpath']));
  });

  it('heartbeats without a handler go through the consumer (no marker)', async () => {
    await withTsServer(false, (addr) => expectGoClientPasses(addr, 'heartbeat'));
  });

  it('Go scenario all passes against a server with a heartbeat handler', async () => {
    await withTsServer(true, (addr) => expectGoClientPasses(addr, 'all', ['-expect-fastpath']));
  });

  it('integers above 2^53-1 are refused promptly, and the server keeps serving', async () => {
    await withTsServer(false, async (addr) => {
      // The Go scenario itself checks that each unsafe request fails without a
      // timeout and that a normal RequestVote works right after it.
      await expectGoClientPasses(addr, 'unsafe-int');
      await expectGoClientPasses(addr, 'vote');
    });
  });

  it('a request over maxFrameSize reaches the Go leader as an error naming the limit, not a reset', async () => {
    const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    await withTsServer(false, (addr) => expectGoClientPasses(addr, 'oversize'), {
      limits: { maxFrameSize: 1024 * 1024 },
      logger,
    });
  });
});

// ---------------------------------------------------------------------------
describe.skipIf(skipReason !== undefined).each(GO_VERSIONS)('interop (b): TS client -> Go %s server', (version) => {
  let client: Transport;
  let plain: GoServer; // consumer only
  let hb: GoServer; // with a heartbeat fast-path handler

  beforeAll(async () => {
    [plain, hb] = await Promise.all([startGoServer({ version }), startGoServer({ heartbeat: true, version })]);
    client = await newTCPTransport('127.0.0.1:0', { maxPool: 16, timeout: TIMEOUT });
  });

  afterAll(async () => {
    await client?.close();
    await Promise.all([plain?.close(), hb?.close()]);
  });

  async function append(req: AppendEntriesRequest, target = plain.addr, viaHeartbeatHandler = false): Promise<void> {
    const resp = await client.appendEntries(GO_ID, target, req);
    expect(resp).toMatchObject(expectedAppendResponse(req, viaHeartbeatHandler));
  }

  it('AppendEntries: all 256 byte values, nil/empty data and extensions, every LogType and string width', async () => {
    await append(appendRequest({ term: 7, prevLogEntry: 100, entries: [logEntry(101, 7, LogType.Command, all256())] }));
    await append(
      appendRequest({
        term: 7,
        prevLogEntry: 101,
        entries: [
          logEntry(102, 7, LogType.Command, null, null),
          logEntry(103, 7, LogType.Command, new Uint8Array(0), new Uint8Array(0)),
          logEntry(104, 7, LogType.Noop, null, enc.encode('ext')),
          logEntry(105, 7, LogType.Command, enc.encode('d'), all256().reverse()),
        ],
      }),
    );
    const widths = [0, 1, 31, 32, 255, 256, 65535, 65536, 70000];
    await append(
      appendRequest({
        term: 8,
        prevLogEntry: 105,
        protocolVersion: 2,
        entries: widths.map((len, i) =>
          logEntry(106 + i, 8, (i % 6) as LogType, pseudoRandomBytes(len, i + 1), pseudoRandomBytes(i * 3, 100 + i)),
        ),
      }),
    );
    await append(
      appendRequest({
        term: 8,
        prevLogEntry: 200,
        protocolVersion: 1,
        entries: [logEntry(201, 8, LogType.Command, pseudoRandomBytes(1 << 20, 42))],
      }),
    );
    const batch: Log[] = Array.from({ length: 500 }, (_, i) =>
      logEntry(202 + i, 9, LogType.Command, pseudoRandomBytes(i % 97, i + 7)),
    );
    await append(appendRequest({ term: 9, prevLogEntry: 201, protocolVersion: 0, entries: batch }));
    await append(appendRequest({ term: 9, prevLogEntry: 10, entries: null }));
    await append(appendRequest({ term: 9, prevLogEntry: 11, entries: [] }));
  });

  it('AppendEntries: a wrong crc gives success=false (negative control)', async () => {
    const req = appendRequest({
      term: 10,
      prevLogEntry: 300,
      entries: [logEntry(301, 10, LogType.Command, all256(), enc.encode('x'))],
    });
    req.leaderCommitIndex += 1;
    const resp = await client.appendEntries(GO_ID, plain.addr, req);
    expect(resp).toMatchObject({ term: 10, lastLog: 301, success: false, noRetryBackoff: false });
  });

  it('newer fields (RPCHeader id/addr, Log.appendedAt) are ignored by a 1.1.2 peer', async () => {
    const req = appendRequest({
      term: 11,
      prevLogEntry: 400,
      entries: [{ ...logEntry(401, 11, LogType.Command, enc.encode('new')), appendedAt: new Date('2024-05-06T07:08:09.123Z') }],
    });
    req.rpcHeader = { protocolVersion: 3, id: enc.encode('ts-node-1'), addr: enc.encode('127.0.0.1:1') };
    await append(req);
  });

  it('RequestVote: term + 1, granted = leadershipTransfer, candidate echoed (Go before 1.7 turns empty into null)', async () => {
    const vote = (candidate: Uint8Array | null, leadershipTransfer: boolean, term = 5): RequestVoteRequest => ({
      rpcHeader: { protocolVersion: 3 },
      term,
      candidate,
      lastLogIndex: 10,
      lastLogTerm: 4,
      leadershipTransfer,
    });
    for (const [req, peers] of [
      [vote(enc.encode('node-a:8300'), false), enc.encode('node-a:8300')],
      [vote(all256(), true, 41), all256()],
      [vote(pseudoRandomBytes(70000, 5), false, 0), pseudoRandomBytes(70000, 5)],
      [vote(null, true), null],
      // go-msgpack 0.5.5 (raft 1.1.2, 1.5.0) decodes an empty byte string into a nil
      // slice and sends that back as nil; go-msgpack v2 (raft 1.7.3) keeps it empty.
      [vote(new Uint8Array(0), true), version === '1.7.3' ? new Uint8Array(0) : null],
    ] as const) {
      const resp = await client.requestVote(GO_ID, plain.addr, req);
      expect(resp).toMatchObject({ rpcHeader: { protocolVersion: 3 }, term: req.term + 1, granted: req.leadershipTransfer });
      expect(resp.peers ?? null).toEqual(peers);
    }
  });

  it('TimeoutNow echoes protocolVersion', async () => {
    for (const protocolVersion of [0, 1, 2, 3]) {
      const resp = await client.timeoutNow(GO_ID, plain.addr, { rpcHeader: { protocolVersion } });
      expect(resp.rpcHeader.protocolVersion).toBe(protocolVersion);
    }
  });

  it("a remote error is ERR_REMOTE with Go's message, and the connection stays usable", async () => {
    const err = await client
      .appendEntries(
        GO_ID,
        plain.addr,
        appendRequest({ term: 666, prevLogEntry: 1, entries: [logEntry(2, 666, LogType.Command, enc.encode('x'))] }),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isTransportError(err, ErrorCode.Remote), String(err)).toBe(true);
    expect(err).toMatchObject({ code: 'ERR_REMOTE', remoteMessage: 'go says no' });
    await append(appendRequest({ term: 4, prevLogEntry: 5, entries: [logEntry(6, 4, LogType.Command, enc.encode('ok'))] }));
  });

  it('integers at 2^53-1 go through every field both ways', async () => {
    const m = MAX_SAFE;
    const entries = [logEntry(m, m, LogType.Command, enc.encode('max'))];
    await append({ ...appendRequest({ term: m, prevLogEntry: m - 1, prevLogTerm: m, protocolVersion: m, entries }) });
    const noMatch: AppendEntriesRequest = {
      rpcHeader: { protocolVersion: m },
      term: m,
      leader: LEADER_ADDR,
      prevLogEntry: m,
      prevLogTerm: m,
      entries: null,
      leaderCommitIndex: m,
    };
    expect(await client.appendEntries(GO_ID, plain.addr, noMatch)).toMatchObject({ term: m, lastLog: m, success: false });
    await append(heartbeatRequest(m, m));
    const vote = await client.requestVote(GO_ID, plain.addr, {
      rpcHeader: { protocolVersion: m },
      term: m - 1,
      candidate: enc.encode('c'),
      lastLogIndex: m,
      lastLogTerm: m,
      leadershipTransfer: true,
    });
    expect(vote).toMatchObject({ rpcHeader: { protocolVersion: m }, term: m, granted: true });
    const data = pseudoRandomBytes(1000, 9);
    const snap = await client.installSnapshot(
      GO_ID,
      plain.addr,
      {
        rpcHeader: { protocolVersion: m },
        snapshotVersion: m,
        term: m,
        leader: LEADER_ADDR,
        lastLogIndex: m,
        lastLogTerm: m,
        configuration: enc.encode('cfg'),
        configurationIndex: m,
        size: data.length,
      },
      [data],
    );
    expect(snap).toMatchObject({ rpcHeader: { protocolVersion: m }, term: crc32(data), success: true });
    expect((await client.timeoutNow(GO_ID, plain.addr, { rpcHeader: { protocolVersion: m } })).rpcHeader.protocolVersion).toBe(m);
  });

  it('heartbeats: fast-path marker from a Go server with a heartbeat handler, none without', async () => {
    for (let i = 1; i <= 50; i++) {
      await append(heartbeatRequest(i, i % 4), hb.addr, true);
      await append(heartbeatRequest(i, i % 4), plain.addr, false);
    }
    // A nil leader is never a heartbeat. An empty one is not to 1.1.2 and 1.5.0
    // (go-msgpack 0.5.5 decodes it to nil) but is to 1.7.3 (go-msgpack v2 keeps
    // it empty, non-nil), which matches src/commands.ts isHeartbeat.
    await append(heartbeatRequest(7, 3, null), hb.addr, false);
    await append(heartbeatRequest(7, 3, new Uint8Array(0)), hb.addr, version === '1.7.3');
  });

  it('InstallSnapshot streams 3 MiB (checked by crc) and other sources and sizes', async () => {
    const snapshot = async (data: Uint8Array, source: Parameters<Transport['installSnapshot']>[3], term = 5) => {
      const resp = await client.installSnapshot(
        GO_ID,
        plain.addr,
        {
          rpcHeader: { protocolVersion: 3 },
          snapshotVersion: 1,
          term,
          leader: LEADER_ADDR,
          lastLogIndex: 1234,
          lastLogTerm: 5,
          configuration: enc.encode('cfg'),
          configurationIndex: 1000,
          size: data.length,
        },
        source,
      );
      expect(resp).toMatchObject({ rpcHeader: { protocolVersion: 3 }, term: crc32(data), success: true });
    };
    const big = pseudoRandomBytes(3 << 20, 2024);
    await snapshot(big, chunked(big));
    await snapshot(big, Readable.from([Buffer.from(big.subarray(0, 1)), Buffer.from(big.subarray(1))]));
    await snapshot(new Uint8Array(0), []);
    const small = enc.encode('hello');
    await snapshot(small, [small]);
  });

  it('a 1000-deep pipeline answers in order, each response matching its request', async () => {
    const pipeline = await client.appendEntriesPipeline(GO_ID, plain.addr);
    try {
      let index = 1000;
      const reqs = Array.from({ length: 1000 }, (_, i) => {
        const k = 1 + (i % 3);
        const entries = Array.from({ length: k }, (_, j) =>
          logEntry(index + j + 1, 20, LogType.Command, pseudoRandomBytes(16 + (i % 64), i * 3 + j + 1)),
        );
        const req = appendRequest({ term: 20, prevLogEntry: index, entries });
        index += k;
        return req;
      });
      const iterator = pipeline.consumer()[Symbol.asyncIterator]();
      const consumed = (async () => {
        const out: AppendFuture[] = [];
        while (out.length < reqs.length) {
          const next = await iterator.next();
          if (next.done) throw new Error(`consumer ended after ${out.length} futures`);
          out.push(next.value);
        }
        return out;
      })();
      consumed.catch(() => {}); // surfaced by the await below
      const sent: AppendFuture[] = [];
      for (const req of reqs) sent.push(await pipeline.appendEntries(req));
      const got = await consumed;
      for (let i = 0; i < reqs.length; i++) {
        const f = got[i]!;
        expect(f.request, `future #${i} out of order`).toBe(reqs[i]);
        expect(f).toBe(sent[i]);
        expect(f.error).toBeUndefined();
        expect(f.response).toMatchObject(expectedAppendResponse(reqs[i]!));
      }
    } finally {
      await pipeline.close();
    }
  });

  it('a remote error in a pipeline fails only its own future, in order', async () => {
    const pipeline = await client.appendEntriesPipeline(GO_ID, plain.addr);
    try {
      const reqs = [
        appendRequest({ term: 4, prevLogEntry: 10, entries: [logEntry(11, 4, LogType.Command, enc.encode('a'))] }),
        appendRequest({ term: 666, prevLogEntry: 11, entries: [logEntry(12, 666, LogType.Command, enc.encode('b'))] }),
        appendRequest({ term: 4, prevLogEntry: 12, entries: [logEntry(13, 4, LogType.Command, enc.encode('c'))] }),
      ];
      for (const req of reqs) await pipeline.appendEntries(req);
      const iterator = pipeline.consumer()[Symbol.asyncIterator]();
      for (const [i, req] of reqs.entries()) {
        const next = await iterator.next();
        expect(next.done).toBe(false);
        const f = next.value as AppendFuture;
        expect(f.request).toBe(req);
        if (req.term === 666) {
          expect(f.error).toMatchObject({ code: 'ERR_REMOTE', remoteMessage: 'go says no' });
          await expect(f.wait()).rejects.toMatchObject({ code: 'ERR_REMOTE' });
        } else {
          expect(f.error, `future #${i}`).toBeUndefined();
          expect(await f.wait()).toMatchObject(expectedAppendResponse(req));
        }
      }
    } finally {
      await pipeline.close();
    }
  });

  it('16 concurrent callers share the pool correctly', async () => {
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; i < 60; i++) {
        const term = w * 100_000 + i + 1;
        switch (i % 5) {
          case 0:
          case 1:
            await append(
              appendRequest({
                term,
                prevLogEntry: i,
                entries: [logEntry(i + 1, term, LogType.Command, pseudoRandomBytes(100 + w, term))],
              }),
              hb.addr,
            );
            break;
          case 2: {
            const candidate = enc.encode(`w${w}-${i}`);
            const resp = await client.requestVote(GO_ID, hb.addr, {
              rpcHeader: { protocolVersion: 3 },
              term,
              candidate,
              lastLogIndex: 0,
              lastLogTerm: 0,
              leadershipTransfer: i % 2 === 0,
            });
            expect(resp).toMatchObject({ term: term + 1, granted: i % 2 === 0, peers: candidate });
            break;
          }
          case 3:
            await append(heartbeatRequest(term), hb.addr, true);
            break;
          case 4: {
            const resp = await client.timeoutNow(GO_ID, hb.addr, { rpcHeader: { protocolVersion: w % 4 } });
            expect(resp.rpcHeader.protocolVersion).toBe(w % 4);
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
  });

  it('RequestPreVote: 1.7.3 answers; 1.1.2 and 1.5.0 close the connection -> PreVoteNotSupportedError, remembered; other calls still work', async () => {
    const req = { rpcHeader: { protocolVersion: 3 }, term: 3, lastLogIndex: 1, lastLogTerm: 1 };
    const attempt = () =>
      client.requestPreVote(GO_ID, plain.addr, req).then(
        (resp) => ({ resp, err: undefined }),
        (err: unknown) => ({ resp: undefined, err }),
      );
    const first = await attempt();
    if (version === '1.7.3') {
      expect(first.err).toBeUndefined();
      expect(first.resp).toMatchObject({ rpcHeader: { protocolVersion: 3 }, term: 4, granted: true });
    } else {
      expect(first.err).toBeInstanceOf(PreVoteNotSupportedError);
      expect(first.err).toMatchObject({ code: 'ERR_NOT_SUPPORTED', remembered: false, peer: plain.addr });
      expect((first.err as Error).cause).toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
      // The second attempt fails fast from memory, without a connection.
      const second = await attempt();
      expect(second.err).toBeInstanceOf(PreVoteNotSupportedError);
      expect(second.err).toMatchObject({ code: 'ERR_NOT_SUPPORTED', remembered: true });
    }
    await append(appendRequest({ term: 3, prevLogEntry: 1, entries: [logEntry(2, 3, LogType.Command, enc.encode('after'))] }));
  });
});
