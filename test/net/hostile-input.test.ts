/**
 * Hostile bytes thrown at a live NetworkTransport over TCP. Whatever arrives,
 * the process must not crash, nothing may reject unhandled, each bad
 * connection is closed with a typed error through the logger, and a
 * well-behaved client on another connection keeps getting correct answers.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcType } from '../../src/commands.ts';
import { ErrorCode, isTransportError, TransportError } from '../../src/errors.ts';
import type { Logger } from '../../src/logger.ts';
import { MessageWriter } from '../../src/net/codec/encoder.ts';
import type { NetworkTransport } from '../../src/net/network-transport.ts';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import { allBytes, appendReq, entry, serve, snapshotReq, voteReq } from '../helpers/fixtures.ts';

const WIRE_FIXTURES = new URL('../fixtures/wire/', import.meta.url);

interface Logged {
  level: string;
  obj: { err?: unknown };
  msg: string;
}

let server: NetworkTransport;
let good: NetworkTransport;
const logged: Logged[] = [];
let unhandled = 0;
const onUnhandled = (): void => {
  unhandled++;
};

const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (obj, msg) => logged.push({ level: 'warn', obj, msg }),
  error: (obj, msg) => logged.push({ level: 'error', obj, msg }),
};

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await newTCPTransport('127.0.0.1:0', { logger, timeout: 5_000, idleTimeout: 2_000 });
  good = await newTCPTransport('127.0.0.1:0', { timeout: 5_000 });
  void serve(server);
});

afterAll(async () => {
  await good.close();
  await server.close();
  process.off('unhandledRejection', onUnhandled);
});

/** Frames a valid request of each type, as a peer would send them. */
function validFrames(): Uint8Array[] {
  const w = new MessageWriter();
  const frames: Uint8Array[] = [];
  const push = (type: RpcType, req: Parameters<MessageWriter['writeRequest']>[1]) => {
    w.writeRequest(type, req);
    frames.push(new Uint8Array(w.take()));
  };
  push(RpcType.AppendEntries, appendReq());
  push(RpcType.AppendEntries, appendReq({ entries: [entry(1, allBytes()), entry(2, null)] }));
  push(RpcType.RequestVote, voteReq());
  push(RpcType.InstallSnapshot, snapshotReq(0));
  push(RpcType.TimeoutNow, { rpcHeader: { protocolVersion: 3 } });
  push(RpcType.RequestPreVote, { rpcHeader: { protocolVersion: 3 }, term: 1, lastLogIndex: 1, lastLogTerm: 1 });
  for (const f of fs.readdirSync(WIRE_FIXTURES).filter((n) => n.endsWith('.json'))) {
    const doc = JSON.parse(fs.readFileSync(new URL(f, WIRE_FIXTURES), 'utf8')) as { vectors: Array<{ request: string }> };
    for (const v of doc.vectors) frames.push(Buffer.from(v.request, 'hex'));
  }
  return frames;
}

/**
 * Sends `chunks` on a fresh connection and resolves once the server has
 * closed it. With `end`, our side half-closes after sending (for inputs that
 * are merely incomplete); without, the server must close on its own.
 */
function throwAt(chunks: Uint8Array[], end: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(server.localAddr().split(':')[1]), '127.0.0.1');
    s.on('error', () => {}); // resets are expected
    s.on('data', () => {}); // answers to valid prefixes are ignored
    s.on('close', () => resolve());
    s.on('connect', () => {
      for (const c of chunks) s.write(c);
      if (end) s.end();
    });
    s.setTimeout(10_000, () => {
      s.destroy();
      reject(new Error('server kept a hostile connection open'));
    });
  });
}

/** The well-behaved client still gets correct answers. */
async function stillServing(term: number): Promise<void> {
  const resp = await good.requestVote('s', server.localAddr(), voteReq({ term, leadershipTransfer: true }));
  expect(resp).toMatchObject({ term, granted: true });
}

function loggedSince(mark: number): Logged[] {
  return logged.slice(mark);
}

function expectTypedCloses(entries: Logged[]): void {
  for (const e of entries) {
    expect(e.obj.err, e.msg).toBeInstanceOf(TransportError);
    expect([ErrorCode.Protocol, ErrorCode.LimitExceeded, ErrorCode.InvalidValue, ErrorCode.ConnectionClosed]).toContain(
      (e.obj.err as TransportError).code,
    );
  }
}

const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const fixstr = (s: string): number[] => [0xa0 | s.length, ...Buffer.from(s)];

describe('hostile input against a live NetworkTransport', () => {
  const named: Array<[string, number[], string]> = [
    ['unknown type byte', [0x09, 0x80], ErrorCode.Protocol],
    ['type byte 255', [0xff], ErrorCode.Protocol],
    ['str32 claiming 4 GiB', [0x00, 0x81, ...fixstr('Term'), 0xdb, ...u32(0xffffffff)], ErrorCode.LimitExceeded],
    ['array32 claiming 4G entries', [0x00, 0x81, ...fixstr('Entries'), 0xdd, ...u32(0xffffffff)], ErrorCode.LimitExceeded],
    ['map32 claiming 4G pairs', [0x00, 0xdf, ...u32(0xffffffff)], ErrorCode.LimitExceeded],
    ['bin32 claiming 4 GiB', [0x01, 0x81, ...fixstr('Candidate'), 0xc6, ...u32(0xfffffff0)], ErrorCode.LimitExceeded],
    ['deep nesting', [0x00, ...new Array<number>(5000).fill(0x91)], ErrorCode.LimitExceeded],
    ['never-used byte 0xc1', [0x00, 0x81, ...fixstr('Term'), 0xc1], ErrorCode.Protocol],
    ['a string where Term goes', [0x00, 0x81, ...fixstr('Term'), ...fixstr('seven')], ErrorCode.Protocol],
    ['a number where Entries go', [0x00, 0x81, ...fixstr('Entries'), 0x05], ErrorCode.Protocol],
    ['a map where Leader goes', [0x00, 0x81, ...fixstr('Leader'), 0x80], ErrorCode.Protocol],
    ['negative Term', [0x00, 0x81, ...fixstr('Term'), 0xff], ErrorCode.Protocol],
    ['Term of 2^53', [0x00, 0x81, ...fixstr('Term'), 0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0], ErrorCode.InvalidValue],
    ['Term of 2^64-1', [0x00, 0x81, ...fixstr('Term'), 0xcf, ...u32(0xffffffff), ...u32(0xffffffff)], ErrorCode.InvalidValue],
    ['a request that is not a map', [0x01, 0x93, 1, 2, 3], ErrorCode.Protocol],
  ];

  for (const [name, bytes, code] of named) {
    it(`closes the connection on ${name}, with ${code} logged`, async () => {
      const mark = logged.length;
      await throwAt([Uint8Array.from(bytes)], false);
      const entries = loggedSince(mark);
      expect(entries.length, `nothing logged for ${name}`).toBeGreaterThan(0);
      expectTypedCloses(entries);
      expect((entries[0]?.obj.err as TransportError | undefined)?.code).toBe(code);
      await stillServing(7);
    });
  }

  it('ignores __proto__ and constructor keys without polluting anything', async () => {
    const body = [
      0x83,
      ...fixstr('__proto__'),
      0x81,
      ...fixstr('polluted'),
      0xc3,
      ...fixstr('constructor'),
      0x81,
      ...fixstr('prototype'),
      0xc3,
      ...fixstr('ProtocolVersion'),
      0x03,
    ];
    const mark = logged.length;
    await throwAt([Uint8Array.from([0x03, ...body])], true);
    expectTypedCloses(loggedSince(mark));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await stillServing(8);
  });

  it('survives every truncation of every valid frame', async () => {
    const frames = validFrames();
    let cases = 0;
    const mark = logged.length;
    for (const frame of frames.slice(0, 8)) {
      for (let cut = 1; cut < frame.length; cut++) {
        await throwAt([frame.subarray(0, cut)], true);
        cases++;
      }
    }
    // Truncations are incomplete, not invalid: the server just sees EOF.
    expectTypedCloses(loggedSince(mark));
    expect(cases).toBeGreaterThan(500);
    await stillServing(9);
  });

  it('survives random bytes and mutated valid frames (property)', async () => {
    const frames = validFrames();
    const mutated = fc
      .tuple(
        fc.constantFrom(...frames),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      )
      .map(([frame, edits]) => {
        const out = Uint8Array.from(frame);
        for (const [pos, val] of edits) out[pos % out.length] = val;
        return out;
      });
    const random = fc.uint8Array({ minLength: 1, maxLength: 512 });
    const withType = fc
      .tuple(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 256 }))
      .map(([t, b]) => Uint8Array.from([t, ...b]));
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, random, withType), fc.array(fc.nat(), { maxLength: 4 }), async (bytes, cuts) => {
        runs++;
        const points = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let prev = 0;
        for (const p of [...points, bytes.length]) {
          if (p > prev) chunks.push(bytes.subarray(prev, p));
          prev = p;
        }
        const mark = logged.length;
        await throwAt(chunks, true);
        expectTypedCloses(loggedSince(mark));
      }),
      { numRuns: 300, seed: 20261121 },
    );
    expect(runs).toBe(300);
    await stillServing(10);
    expect(unhandled).toBe(0);
  });

  it('keeps answering a well-behaved client while hostile connections come and go', async () => {
    const hostile = Array.from({ length: 50 }, (_, i) => throwAt([Uint8Array.from([0x00, 0xdb, ...u32(0xfffffff0 - i)])], false));
    const calls = Array.from({ length: 50 }, (_, i) => stillServing(100 + i));
    await Promise.all([...hostile, ...calls]);
    expect(isTransportError(logged.at(-1)?.obj.err)).toBe(true);
    expect(unhandled).toBe(0);
  });
});
