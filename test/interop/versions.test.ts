/**
 * What only the newer hashicorp/raft generations have, checked live against
 * each of 1.1.2, 1.5.0 and 1.7.3 in both directions, with the Go peer
 * reporting what Go itself decoded (`serve -report`):
 * RPCHeader ID/Addr, Log.AppendedAt in both time formats (to the nanosecond,
 * and the zero time), RequestPreVote, each version's heartbeat fast path,
 * pipeline depth (MaxRPCsInFlight), and what each version does with an RPC
 * type or a field it does not know. The README's compatibility table cites
 * these tests by name.
 */
import net from 'node:net';
import { decodeMulti, encode } from '@msgpack/msgpack';
import { afterAll, describe, expect, it } from 'vitest';

import { type AnyRequest, type AppendEntriesRequest, LogType, RpcType } from '../../src/commands.ts';
import { PreciseDate } from '../../src/net/codec/go-time.ts';
import type { WireFormat, WireFormatPreset } from '../../src/net/codec/wire-format.ts';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import {
  appendRequest,
  GO_VERSIONS,
  type GoRaftVersion,
  type GoServer,
  goSkipReason,
  heartbeatRequest,
  killAllGoProcesses,
  logEntry,
  respondDeterministically,
  runGoBench,
  runGoClient,
  startGoServer,
} from './go-peer.ts';

const skipReason = goSkipReason();
if (skipReason !== undefined) console.warn(`[interop] skipping version tests: ${skipReason}`);

const enc = new TextEncoder();
const dec = new TextDecoder();
const TIMEOUT = 10_000;
const GO_ID = 'go-server';

/** The AppendedAt instants of the Go peer's appendedat scenario (newer.go), as Unix nanoseconds; null = Go's zero time. */
const APPENDED_AT_NS: (bigint | null)[] = [1764744000123456789n, null, -1n, 1764744000000000000n, 9223372036854775807n];

afterAll(() => killAllGoProcesses());

/** A TS server that records every request it decodes and answers by the responder rules. */
async function withRecordingServer(
  fn: (addr: string, seen: AnyRequest[], types: RpcType[]) => Promise<void>,
  wireFormat?: WireFormat,
): Promise<void> {
  const server = await newTCPTransport('127.0.0.1:0', { timeout: TIMEOUT, wireFormat });
  const seen: AnyRequest[] = [];
  const types: RpcType[] = [];
  const errors: unknown[] = [];
  const done = (async () => {
    for await (const rpc of server.consumer()) {
      seen.push(rpc.command);
      types.push(rpc.type);
      await respondDeterministically(rpc, false).catch((e: unknown) => void errors.push(e));
    }
  })();
  try {
    await fn(server.localAddr(), seen, types);
  } finally {
    await server.close();
    await done;
  }
  expect(errors).toEqual([]);
}

async function goClient(version: GoRaftVersion, addr: string, scenario: string, args: string[] = []): Promise<string> {
  const r = await runGoClient(addr, scenario, args, { version, timeoutMs: 60_000 });
  expect(r.code, `Go ${version} client ${scenario}: ${r.stderr}${r.timedOut ? ' (timed out)' : ''}`).toBe(0);
  return r.stdout;
}

function nsOf(d: Date | null | undefined): bigint | null {
  if (d == null) return null;
  expect(d).toBeInstanceOf(PreciseDate);
  return (d as PreciseDate).unixNanoseconds;
}

function splitHostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}

/** Writes `bytes` on a fresh connection and collects what comes back until the peer closes or `enough` says stop. */
function rawExchange(
  addr: string,
  bytes: Uint8Array,
  enough: (got: Buffer) => boolean,
): Promise<{ got: Buffer; closed: boolean }> {
  const [host, port] = splitHostPort(addr);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no close and not enough bytes within ${TIMEOUT} ms (got ${Buffer.concat(chunks).length})`));
    }, TIMEOUT);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (enough(Buffer.concat(chunks))) {
        clearTimeout(timer);
        sock.destroy();
        resolve({ got: Buffer.concat(chunks), closed: false });
      }
    });
    sock.once('close', () => {
      clearTimeout(timer);
      resolve({ got: Buffer.concat(chunks), closed: true });
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.write(bytes);
  });
}

/** The first two msgpack values in `b` (Go's answer: error string, response map), or undefined while incomplete. */
function decodeAnswer(b: Buffer): [unknown, Record<string, unknown>] | undefined {
  const out: unknown[] = [];
  try {
    for (const v of decodeMulti(b)) {
      out.push(v);
      if (out.length === 2) return out as [unknown, Record<string, unknown>];
    }
  } catch {
    return undefined;
  }
  return undefined;
}

describe.skipIf(skipReason !== undefined).each(GO_VERSIONS)('raft %s, newer protocol features', (version) => {
  const since15 = version !== '1.1.2';
  const since17 = version === '1.7.3';

  describe('Go client -> TS server', () => {
    it('RPCHeader ID/Addr: what our server decoded from Go (absent before 1.5)', async () => {
      await withRecordingServer(async (addr, seen) => {
        await goClient(version, addr, 'header');
        expect(seen).toHaveLength(3);
        for (const req of seen) {
          if (since15) {
            expect(dec.decode(req.rpcHeader.id ?? undefined)).toBe('go-node-1');
            expect(dec.decode(req.rpcHeader.addr ?? undefined)).toBe('go-node-1:8300');
          } else {
            expect(req.rpcHeader.id ?? null).toBeNull();
            expect(req.rpcHeader.addr ?? null).toBeNull();
          }
        }
      });
    });

    const formats = since17 ? [false, true] : [false];
    it.each(formats)(
      'AppendedAt (new time format %s): exact nanoseconds and the zero time as we decoded them',
      async (newTime) => {
        await withRecordingServer(async (addr, seen) => {
          await goClient(version, addr, 'appendedat', newTime ? ['-new-time-format'] : []);
          const req = seen[0] as AppendEntriesRequest;
          const got = (req.entries ?? []).map((e) => nsOf(e.appendedAt));
          // 1.1.2 has no AppendedAt: every entry arrives without one.
          expect(got).toEqual(since15 ? APPENDED_AT_NS : APPENDED_AT_NS.map(() => null));
        });
      },
    );

    it.runIf(since17)('RequestPreVote from Go is answered by our server', async () => {
      await withRecordingServer(async (addr, _seen, types) => {
        await goClient(version, addr, 'prevote');
        expect(types).toEqual([RpcType.RequestPreVote, RpcType.RequestPreVote, RpcType.RequestPreVote, RpcType.RequestPreVote]);
      });
    });

    it.each([2, 128])('pipeline depth %i: our follower answers 1000 pipelined AppendEntries in order', async (depth) => {
      await withRecordingServer(async (addr) => {
        const out = await goClient(version, addr, 'pipeline', ['-max-inflight', String(depth)]);
        expect(out).toMatch(/^PASS pipeline 1000 /m);
      });
    });

    it.runIf(since15)('MaxRPCsInFlight 1: Go refuses to pipeline and replicates synchronously', async () => {
      await withRecordingServer(async (addr) => {
        await goClient(version, addr, 'pipeline-refused', ['-max-inflight', '1']);
      });
    });
    it('bench: the Go client names its release and pipelines at the window asked (-window, 1.5+)', async () => {
      await withRecordingServer(async (addr) => {
        const window = since15 ? 16 : undefined;
        const res = await runGoBench(addr, { scenario: '128b', mode: 'pipeline', n: 100, warmup: 10, version, window });
        expect(res.client).toContain(`hashicorp/raft ${version} `);
        expect(res.pipelineDepth).toBe(since15 ? 16 : 128);
      });
    });
  });

  describe('TS client -> Go server', () => {
    let server: GoServer | undefined;
    afterAll(async () => server?.close());

    async function reportingServer(opts: { heartbeat?: boolean; newTimeFormat?: boolean } = {}): Promise<GoServer> {
      await server?.close();
      server = await startGoServer({ version, report: true, ...opts });
      return server;
    }

    it('RPCHeader ID/Addr: what Go decoded from us (1.5+), on every RPC type', async () => {
      const go = await reportingServer();
      const client = await newTCPTransport('127.0.0.1:0', { timeout: TIMEOUT });
      try {
        const rpcHeader = { protocolVersion: 3, id: enc.encode('ts-node-1'), addr: enc.encode('ts-node-1:8300') };
        await client.appendEntries(GO_ID, go.addr, {
          ...appendRequest({ term: 2, prevLogEntry: 1, entries: [logEntry(2, 2, LogType.Command, enc.encode('h'))] }),
          rpcHeader,
        });
        await client.requestVote(GO_ID, go.addr, {
          rpcHeader,
          term: 2,
          candidate: enc.encode('c'),
          lastLogIndex: 1,
          lastLogTerm: 1,
          leadershipTransfer: false,
        });
        await client.timeoutNow(GO_ID, go.addr, { rpcHeader });
        if (since17) await client.requestPreVote(GO_ID, go.addr, { rpcHeader, term: 2, lastLogIndex: 1, lastLogTerm: 1 });
        const saw = await go.waitSeen(since17 ? 4 : 3);
        expect(saw.map((s) => s.type)).toEqual(
          ['AppendEntries', 'RequestVote', 'TimeoutNow', 'RequestPreVote'].slice(0, since17 ? 4 : 3),
        );
        for (const s of saw) {
          expect(s.protocolVersion).toBe(3);
          expect([s.id, s.addr]).toEqual(since15 ? ['ts-node-1', 'ts-node-1:8300'] : [null, null]);
        }
      } finally {
        await client.close();
      }
    });

    const cases: [string, WireFormat['timeFormat'], boolean][] = [['binary', 'binary', false]];
    if (since17) cases.push(['msgpack (MsgpackUseNewTimeFormat)', 'msgpack', true]);
    it.each(cases)('AppendedAt %s: the exact instant Go decoded, and the zero time', async (_name, timeFormat, newTimeFormat) => {
      const go = await reportingServer({ newTimeFormat });
      const client = await newTCPTransport('127.0.0.1:0', { timeout: TIMEOUT, wireFormat: { timeFormat } });
      try {
        const entries = APPENDED_AT_NS.map((ns, i) => ({
          ...logEntry(i + 2, 3, LogType.Command, Uint8Array.of(i)),
          appendedAt: ns === null ? null : PreciseDate.fromUnixNanoseconds(ns),
        }));
        await client.appendEntries(GO_ID, go.addr, appendRequest({ term: 3, prevLogEntry: 1, entries }));
        const [saw] = await go.waitSeen(1);
        if (!since15) {
          expect(saw?.appendedAt).toBeUndefined(); // 1.1.2 has no such field and ignores ours
          return;
        }
        expect(saw?.appendedAt?.map((a) => (a.zero ? null : BigInt(a.unixNano)))).toEqual(APPENDED_AT_NS);
        expect(saw?.appendedAt?.[0]?.rfc3339).toBe('2025-12-03T06:40:00.123456789Z');
      } finally {
        await client.close();
      }
    });

    it.runIf(since15)(
      'AppendedAt format mismatch: 1.5.0 drops the connection on msgpack time; 1.7.3 reads either format whatever its setting',
      async () => {
        const send = async (wireFormat: WireFormatPreset, newTimeFormat: boolean) => {
          const go = await reportingServer({ newTimeFormat });
          const client = await newTCPTransport('127.0.0.1:0', { timeout: TIMEOUT, wireFormat });
          try {
            const entries = [
              { ...logEntry(2, 3, LogType.Command, null), appendedAt: PreciseDate.fromUnixNanoseconds(APPENDED_AT_NS[0] ?? 0n) },
            ];
            const req = appendRequest({ term: 3, prevLogEntry: 1, entries });
            return await client.appendEntries(GO_ID, go.addr, req).then(
              async () => (await go.waitSeen(1))[0]?.appendedAt?.[0]?.unixNano,
              (err: unknown) => (err as { code?: string }).code,
            );
          } finally {
            await client.close();
          }
        };
        const exact = String(APPENDED_AT_NS[0]);
        if (since17) {
          expect(await send('hashicorp-1.6+-msgpack-time', false)).toBe(exact);
          expect(await send('hashicorp-1.6+', true)).toBe(exact);
        } else {
          expect(await send('hashicorp-1.6+-msgpack-time', false)).toBe('ERR_CONNECTION_CLOSED');
        }
      },
    );

    it("heartbeat detection: Go's own fast path for Addr/Leader combinations", async () => {
      const go = await reportingServer({ heartbeat: true });
      const client = await newTCPTransport('127.0.0.1:0', { timeout: TIMEOUT });
      const x = enc.encode('ts-leader:8300');
      const empty = new Uint8Array(0);
      // [addr, leader, fast path on 1.1.2, on 1.5.0, on 1.7.3]
      const table: [Uint8Array | undefined, Uint8Array | null, boolean, boolean, boolean][] = [
        [undefined, x, true, true, true],
        [x, x, true, true, true],
        [x, null, false, true, true], // 1.5+: the header's Addr alone makes it a heartbeat
        [empty, x, true, true, true], // an empty Addr falls back to Leader
        [empty, null, false, false, false],
        [undefined, null, false, false, false],
        [undefined, empty, false, false, true], // go-msgpack 0.5.5 turns empty into nil; v2 keeps it
      ];
      const col = GO_VERSIONS.indexOf(version) + 2;
      try {
        for (const [i, row] of table.entries()) {
          const [addr, leader] = row;
          const req = heartbeatRequest(100 + i, 3, leader);
          if (addr !== undefined) req.rpcHeader = { protocolVersion: 3, addr };
          const resp = await client.appendEntries(GO_ID, go.addr, req);
          expect(resp.noRetryBackoff, `row ${i}`).toBe(row[col]);
        }
        const saw = await go.waitSeen(table.length);
        expect(saw.map((s) => s.heartbeat)).toEqual(table.map((row) => row[col]));
      } finally {
        await client.close();
      }
    });

    it('an unknown RPC type byte: Go closes the connection without answering; type 4 is answered only by 1.7.3', async () => {
      const go = await reportingServer();
      const body = encode({ ProtocolVersion: 3, Term: 1, LastLogIndex: 0, LastLogTerm: 0 });
      const unknown = await rawExchange(go.addr, Uint8Array.of(9, ...body), () => false);
      expect(unknown).toEqual({ got: Buffer.alloc(0), closed: true });
      const preVote = await rawExchange(go.addr, Uint8Array.of(4, ...body), (b) => decodeAnswer(b) !== undefined);
      if (since17) {
        expect(decodeAnswer(preVote.got)).toMatchObject(['', { Term: 2, Granted: true, ProtocolVersion: 3 }]);
      } else {
        expect(preVote).toEqual({ got: Buffer.alloc(0), closed: true });
      }
    });

    it('unknown fields in a request are ignored by Go', async () => {
      const go = await reportingServer();
      const body = encode({
        ProtocolVersion: 3,
        Term: 9,
        Leader: enc.encode('ts-leader:8300'),
        PrevLogEntry: 4,
        PrevLogTerm: 9,
        Entries: null,
        LeaderCommitIndex: 0,
        FutureScalar: 42,
        FutureMap: { a: [1, 2, 3], b: 'x' },
        FutureBytes: enc.encode('later'),
      });
      const r = await rawExchange(go.addr, Uint8Array.of(0, ...body), (b) => decodeAnswer(b) !== undefined);
      expect(decodeAnswer(r.got)).toMatchObject(['', { Term: 9, LastLog: 4, Success: true }]);
    });
  });
});
