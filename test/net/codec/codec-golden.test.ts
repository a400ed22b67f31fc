/**
 * Golden bytes recorded from real Go (hashicorp/raft 1.1.2 + go-msgpack 0.5.5,
 * and raft 1.7 + go-msgpack v2): we must decode them to the expected commands
 * and re-encode those commands to exactly the same bytes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RpcType, type AnyRequest, type AnyResponse, type Log, type RPCHeader } from '../../../src/commands.ts';
import { decodeErrorString, decodeRequest, decodeResponse } from '../../../src/net/codec/decoder.ts';
import { MessageWriter } from '../../../src/net/codec/encoder.ts';
import { FrameReader } from '../../../src/net/codec/frame-reader.ts';
import { PreciseDate } from '../../../src/net/codec/go-time.ts';
import type { WireFormat } from '../../../src/net/codec/wire-format.ts';

/** The project's copy of the recorded bytes (test/fixtures/wire; golden-fixtures.test.ts checks it against ../shared/wire). */
const WIRE_DIR = new URL('../../fixtures/wire/', import.meta.url);
const FILE_112 = 'hashicorp-raft-1.1.2-vectors.json';
const FILE_LATEST = 'hashicorp-raft-latest-vectors.json';

interface Vector {
  name: string;
  rpcType: number;
  request: string;
  response: string;
  error: string;
  note: string;
}

function load(file: string): Vector[] {
  return (JSON.parse(readFileSync(new URL(file, WIRE_DIR), 'utf8')) as { vectors: Vector[] }).vectors;
}

/** Makes byte arrays and PreciseDates comparable, exactly (toEqual alone would compare Dates to the millisecond). */
function norm(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (v instanceof PreciseDate) return `date:${v.toPreciseISOString()}`;
  if (v instanceof Date) return `date:${v.toISOString()}`;
  if (Array.isArray(v)) return v.map(norm);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  return v;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const ADDR = text('127.0.0.1:7000');
const APPENDED_AT = '2026-11-21T10:30:00.123456789Z';

/** Expected commands, keyed by vector name; `latest` adds the raft 1.7 fields. */
function expected(name: string, latest: boolean): { request: AnyRequest; response: AnyResponse } {
  const h = (protocolVersion: number, withSender = true): RPCHeader => ({
    protocolVersion,
    id: latest && withSender ? text('node-1') : null,
    addr: latest && withSender ? ADDR : null,
  });
  const log = (index: number, type: number, data: Uint8Array, extensions: Uint8Array | null, at: Date | null = null): Log => ({
    index,
    term: 7,
    type: type as Log['type'],
    data,
    extensions,
    appendedAt: at,
  });
  const appendOne = (at: Date | null): { request: AnyRequest; response: AnyResponse } => ({
    request: {
      rpcHeader: h(3),
      term: 7,
      leader: ADDR,
      prevLogEntry: 100,
      prevLogTerm: 6,
      entries: [log(101, 0, text('hello'), null, at)],
      leaderCommitIndex: 98,
    },
    response: { rpcHeader: h(3), term: 7, lastLog: 101, success: true, noRetryBackoff: false },
  });
  const snapshot = (size: number): { request: AnyRequest; response: AnyResponse } => ({
    request: {
      rpcHeader: h(3),
      snapshotVersion: 1,
      term: 13,
      leader: text('l'),
      lastLogIndex: 500,
      lastLogTerm: 12,
      peers: null,
      configuration: Uint8Array.of(1, 2, 3),
      configurationIndex: 400,
      size,
    },
    response: { rpcHeader: h(3), term: 13, success: true },
  });
  switch (name) {
    case 'append-entries':
      return {
        request: {
          rpcHeader: h(3),
          term: 7,
          leader: ADDR,
          prevLogEntry: 100,
          prevLogTerm: 6,
          entries: [log(101, 0, text('hello'), null), log(102, 5, ALL_BYTES, Uint8Array.of(1, 2))],
          leaderCommitIndex: 98,
        },
        response: { rpcHeader: h(3), term: 7, lastLog: 102, success: true, noRetryBackoff: false },
      };
    case 'heartbeat':
      return {
        request: { rpcHeader: h(3), term: 9, leader: ADDR, prevLogEntry: 0, prevLogTerm: 0, entries: null, leaderCommitIndex: 0 },
        response: { rpcHeader: h(3), term: 9, lastLog: 0, success: true, noRetryBackoff: false },
      };
    case 'append-entries-error':
      return {
        request: {
          rpcHeader: h(0, false),
          term: 666,
          leader: text('x'),
          prevLogEntry: 1,
          prevLogTerm: 0,
          entries: null,
          leaderCommitIndex: 0,
        },
        response: { rpcHeader: h(0, false), term: 666, lastLog: 0, success: false, noRetryBackoff: false },
      };
    case 'append-entries-large-ints':
      return {
        request: {
          rpcHeader: h(0, false),
          term: Number.MAX_SAFE_INTEGER,
          leader: text('x'),
          prevLogEntry: 2 ** 40 + 3,
          prevLogTerm: 2 ** 33,
          entries: null,
          leaderCommitIndex: 2 ** 32,
        },
        response: {
          rpcHeader: h(0, false),
          term: Number.MAX_SAFE_INTEGER,
          lastLog: 2 ** 40 + 3,
          success: true,
          noRetryBackoff: true,
        },
      };
    case 'request-vote':
      return {
        request: {
          rpcHeader: h(3),
          term: 11,
          candidate: text('127.0.0.1:7001'),
          lastLogIndex: 10,
          lastLogTerm: 10,
          leadershipTransfer: true,
        },
        response: { rpcHeader: h(3), term: 11, peers: null, granted: true },
      };
    case 'install-snapshot':
      return snapshot(5);
    case 'install-snapshot-size-300':
      return snapshot(300);
    case 'timeout-now':
      return { request: { rpcHeader: h(3) }, response: { rpcHeader: h(3) } };
    case 'request-pre-vote':
      return {
        request: { rpcHeader: h(3), term: 11, lastLogIndex: 10, lastLogTerm: 10 },
        response: { rpcHeader: h(3), term: 11, granted: true },
      };
    case 'append-entries-appended-at':
    case 'append-entries-appended-at-new-time-format':
      return appendOne(PreciseDate.fromISOString(APPENDED_AT));
    case 'append-entries-zero-appended-at':
    case 'append-entries-zero-appended-at-new-time-format':
      return appendOne(null);
    default:
      throw new Error(`no expectation for vector ${name}; add one`);
  }
}

const suites: Array<{ file: string; latest: boolean; format: (name: string) => WireFormat }> = [
  { file: FILE_112, latest: false, format: () => ({ fields: 'v1.1' }) },
  { file: FILE_LATEST, latest: true, format: (name) => (name.endsWith('-new-time-format') ? { timeFormat: 'msgpack' } : {}) },
];

describe('golden vectors from Go', () => {
  for (const { file, latest, format } of suites) {
    const vectors = load(file);

    describe(file, () => {
      it('has vectors', () => {
        expect(vectors.length).toBeGreaterThanOrEqual(7);
      });

      for (const v of vectors) {
        describe(v.name, () => {
          const type = v.rpcType as RpcType;
          const request = Buffer.from(v.request, 'hex');
          const response = Buffer.from(v.response, 'hex');
          const want = expected(v.name, latest);

          it('frames and decodes the request', () => {
            const reader = new FrameReader();
            reader.push(request);
            expect(reader.readByte()).toBe(v.rpcType);
            const body = reader.readValue();
            expect(body).toBeDefined();
            expect(reader.buffered).toBe(0);
            expect(norm(decodeRequest(type, body!))).toStrictEqual(norm(want.request));
          });

          it('frames and decodes the response (error string, then map)', () => {
            const reader = new FrameReader();
            reader.push(response);
            const err = reader.readValue();
            const body = reader.readValue();
            expect(err).toBeDefined();
            expect(body).toBeDefined();
            expect(reader.buffered).toBe(0);
            expect(decodeErrorString(err!)).toBe(v.error);
            expect(norm(decodeResponse(type, body!))).toStrictEqual(norm(want.response));
          });

          it('re-encodes the decoded commands byte-exact', () => {
            const w = new MessageWriter(format(v.name));
            w.writeRequest(type, decodeRequest(type, request.subarray(1)));
            expect(w.take().toString('hex')).toBe(v.request);
            const errLen = v.error === '' ? 1 : 1 + Buffer.byteLength(v.error);
            w.writeResponse(type, decodeResponse(type, response.subarray(errLen)), v.error);
            expect(w.take().toString('hex')).toBe(v.response);
          });

          it('encodes the hand-written commands byte-exact', () => {
            const w = new MessageWriter(format(v.name));
            w.writeRequest(type, want.request);
            w.writeResponse(type, want.response, v.error === '' ? undefined : v.error);
            expect(w.pending).toBe(request.length + response.length);
            expect(w.take().toString('hex')).toBe(v.request + v.response);
          });
        });
      }
    });
  }

  it('go-msgpack 0.5.5 rules write InstallSnapshot.Size 300 unsigned (cd012c), v2 rules signed (d1012c)', () => {
    const { request } = expected('install-snapshot-size-300', true);
    const v11 = new MessageWriter({ fields: 'v1.1' });
    v11.writeRequest(RpcType.InstallSnapshot, request);
    expect(v11.take().toString('hex')).toContain('a453697a65cd012c');
    const latest = new MessageWriter();
    latest.writeRequest(RpcType.InstallSnapshot, request);
    expect(latest.take().toString('hex')).toContain('a453697a65d1012c');
  });

  it('a 1.1.2 receiver-side decode of latest bytes keeps the extra fields, and v1.1 encoding drops them', () => {
    const [v] = load(FILE_LATEST).filter((x) => x.name === 'heartbeat');
    const req = decodeRequest(RpcType.AppendEntries, Buffer.from(v!.request, 'hex').subarray(1));
    const w = new MessageWriter({ fields: 'v1.1' });
    w.writeRequest(RpcType.AppendEntries, req);
    const [old] = load(FILE_112).filter((x) => x.name === 'heartbeat');
    expect(w.take().toString('hex')).toBe(old!.request);
  });
});
