/**
 * Property tests of the whole codec: encoder → FrameReader → decoder for
 * random commands of every type, plus what random, truncated and hostile
 * bytes may (not) do.
 */
import { encode as libEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  RpcType,
  type AnyRequest,
  type AnyResponse,
  type Bytes,
  type Log,
  type LogType,
  type RPCHeader,
} from '../../../src/commands.ts';
import { InvalidValueError, LimitExceededError, ProtocolError, TransportError } from '../../../src/errors.ts';
import { decodeErrorString, decodeRequest, decodeResponse } from '../../../src/net/codec/decoder.ts';
import { libraryDecoder } from '../../helpers/library-decoder.ts';
import { MessageWriter } from '../../../src/net/codec/encoder.ts';
import { FrameReader } from '../../../src/net/codec/frame-reader.ts';
import { GO_ZERO_TIME_UNIX_SECONDS, PreciseDate } from '../../../src/net/codec/go-time.ts';
import type { WireFormat } from '../../../src/net/codec/wire-format.ts';

const RUNS = { numRuns: 300 };
const isOurs = (err: unknown): boolean => err instanceof TransportError;
const TYPES = [
  RpcType.AppendEntries,
  RpcType.RequestVote,
  RpcType.InstallSnapshot,
  RpcType.TimeoutNow,
  RpcType.RequestPreVote,
] as const;
const FORMATS: WireFormat[] = [{}, { timeFormat: 'msgpack' }, { fields: 'v1.1' }];
const ZERO_NS = BigInt(GO_ZERO_TIME_UNIX_SECONDS) * 1_000_000_000n;

// ---- Arbitraries ----

const uint = fc.oneof(
  fc.constantFrom(
    0,
    1,
    127,
    128,
    255,
    256,
    0x7fff,
    0x8000,
    0xffff,
    0x10000,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32 - 1,
    2 ** 32,
    Number.MAX_SAFE_INTEGER,
  ),
  fc.nat(),
  fc.maxSafeNat(),
);

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const smallBytes: fc.Arbitrary<Bytes> = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 40 }), fc.constant(ALL_BYTES));
const bytesArb: fc.Arbitrary<Bytes> = fc.oneof(
  { weight: 8, arbitrary: smallBytes },
  // Raw-string header boundaries: fixstr/str16 at 31/32, str16/str32 at 65535/65536.
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(31, 32, 255, 256, 65535, 65536), fc.nat(255)).map(([n, f]) => new Uint8Array(n).fill(f)),
  },
);

const instant = fc.bigInt({ min: -8_640_000_000_000_000_000_000n, max: 8_640_000_000_000_000_000_000n });
const timeArb: fc.Arbitrary<Date | null> = fc.oneof(
  fc.constant(null),
  instant.map((ns) => PreciseDate.fromUnixNanoseconds(ns)),
  fc.date({ noInvalidDate: true }),
  fc.constant(new Date(GO_ZERO_TIME_UNIX_SECONDS * 1000)),
);

function headerArb(bytes: fc.Arbitrary<Bytes>): fc.Arbitrary<RPCHeader> {
  return fc.record({ protocolVersion: uint, id: bytes, addr: bytes }, { requiredKeys: ['protocolVersion'] });
}

function logArb(bytes: fc.Arbitrary<Bytes>): fc.Arbitrary<Log> {
  return fc.record(
    { index: uint, term: uint, type: fc.nat(255).map((t) => t as LogType), data: bytes, extensions: bytes, appendedAt: timeArb },
    { requiredKeys: ['index', 'term', 'type', 'data'] },
  );
}

function requestArb(type: RpcType, bytes: fc.Arbitrary<Bytes> = bytesArb): fc.Arbitrary<AnyRequest> {
  const rpcHeader = headerArb(bytes);
  switch (type) {
    case RpcType.AppendEntries:
      return fc.record({
        rpcHeader,
        term: uint,
        leader: bytes,
        prevLogEntry: uint,
        prevLogTerm: uint,
        entries: fc.option(fc.array(logArb(bytes), { maxLength: 6 }), { nil: null }),
        leaderCommitIndex: uint,
      });
    case RpcType.RequestVote:
      return fc.record({
        rpcHeader,
        term: uint,
        candidate: bytes,
        lastLogIndex: uint,
        lastLogTerm: uint,
        leadershipTransfer: fc.boolean(),
      });
    case RpcType.InstallSnapshot:
      return fc.record(
        {
          rpcHeader,
          snapshotVersion: uint,
          term: uint,
          leader: bytes,
          lastLogIndex: uint,
          lastLogTerm: uint,
          peers: bytes,
          configuration: bytes,
          configurationIndex: uint,
          size: uint,
        },
        {
          requiredKeys: [
            'rpcHeader',
            'snapshotVersion',
            'term',
            'leader',
            'lastLogIndex',
            'lastLogTerm',
            'configuration',
            'configurationIndex',
            'size',
          ],
        },
      );
    case RpcType.TimeoutNow:
      return fc.record({ rpcHeader });
    default:
      return fc.record({ rpcHeader, term: uint, lastLogIndex: uint, lastLogTerm: uint });
  }
}

function responseArb(type: RpcType, bytes: fc.Arbitrary<Bytes> = bytesArb): fc.Arbitrary<AnyResponse> {
  const rpcHeader = headerArb(bytes);
  switch (type) {
    case RpcType.AppendEntries:
      return fc.record({ rpcHeader, term: uint, lastLog: uint, success: fc.boolean(), noRetryBackoff: fc.boolean() });
    case RpcType.RequestVote:
      return fc.record(
        { rpcHeader, term: uint, peers: bytes, granted: fc.boolean() },
        { requiredKeys: ['rpcHeader', 'term', 'granted'] },
      );
    case RpcType.InstallSnapshot:
      return fc.record({ rpcHeader, term: uint, success: fc.boolean() });
    case RpcType.TimeoutNow:
      return fc.record({ rpcHeader });
    default:
      return fc.record({ rpcHeader, term: uint, granted: fc.boolean() });
  }
}

const typeArb = fc.constantFrom(...TYPES);
const anyRequest = typeArb.chain((type) => requestArb(type).map((req) => ({ type, req })));
const anyResponse = typeArb.chain((type) =>
  fc.record({
    type: fc.constant(type),
    resp: fc.option(responseArb(type), { nil: null }),
    error: fc.option(fc.string({ unit: 'grapheme', maxLength: 60 }), { nil: undefined }),
  }),
);
const formatArb = fc.constantFrom(...FORMATS);

// ---- What a decoder should return for a given input ----

/** Byte arrays as hex, times as exact nanoseconds, so comparisons are exact. */
function norm(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (v instanceof Date) return `ns:${v instanceof PreciseDate ? v.unixNanoseconds : BigInt(v.getTime()) * 1_000_000n}`;
  if (Array.isArray(v)) return v.map(norm);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  return v;
}

function isZeroTime(d: Date | null | undefined): boolean {
  if (d == null) return true;
  const ns = d instanceof PreciseDate ? d.unixNanoseconds : BigInt(d.getTime()) * 1_000_000n;
  return ns === ZERO_NS;
}

/** The canonical decoded form of `v`: every field present, fields the format lacks at their zero value. */
function canonical(v: AnyRequest | AnyResponse, format: WireFormat): unknown {
  const latest = format.fields !== 'v1.1';
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'rpcHeader') {
      const h = x as RPCHeader;
      out[k] = { protocolVersion: h.protocolVersion, id: latest ? (h.id ?? null) : null, addr: latest ? (h.addr ?? null) : null };
    } else if (k === 'entries' && x !== null) {
      out[k] = (x as Log[]).map((e) => ({
        index: e.index,
        term: e.term,
        type: e.type,
        data: e.data,
        extensions: e.extensions ?? null,
        appendedAt: latest && !isZeroTime(e.appendedAt) ? e.appendedAt : null,
      }));
    } else {
      out[k] = x;
    }
  }
  if ('peers' in v || 'configuration' in v || ('granted' in v && 'term' in v && !('lastLogIndex' in v))) out.peers ??= null;
  return norm(out);
}

/** Field order of the decoded objects (hence of canonical ones too) is the interface's, not the input's. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

const same = (a: unknown, b: unknown): void => expect(sortKeys(a)).toStrictEqual(sortKeys(b));

/** Only RequestVoteResponse and InstallSnapshotRequest have Peers; fix canonical() for the others. */
function expectedRequest(type: RpcType, req: AnyRequest, format: WireFormat): unknown {
  const c = canonical(req, format) as Record<string, unknown>;
  if (type !== RpcType.InstallSnapshot) delete c.peers;
  return c;
}
function expectedResponse(type: RpcType, resp: AnyResponse, format: WireFormat): unknown {
  const c = canonical(resp, format) as Record<string, unknown>;
  if (type !== RpcType.RequestVote) delete c.peers;
  return c;
}

function encodeRequest(type: RpcType, req: AnyRequest, format: WireFormat): Buffer {
  const w = new MessageWriter(format);
  w.writeRequest(type, req);
  return w.take();
}

// ---- Properties ----

describe('round trip', () => {
  it('every request type, field set and time format decodes to what was encoded, and re-encodes identically', () => {
    fc.assert(
      fc.property(anyRequest, formatArb, ({ type, req }, format) => {
        const wire = encodeRequest(type, req, format);
        expect(wire[0]).toBe(type);
        const decoded = decodeRequest(type, wire.subarray(1));
        same(norm(decoded), expectedRequest(type, req, format));
        same(norm(libraryDecoder.decodeRequest(type, wire.subarray(1))), norm(decoded));
        expect(encodeRequest(type, decoded, format).equals(wire)).toBe(true);
      }),
      RUNS,
    );
  });

  it('every response type, with and without an error string', () => {
    fc.assert(
      fc.property(anyResponse, formatArb, ({ type, resp, error }, format) => {
        const w = new MessageWriter(format);
        w.writeResponse(type, resp, resp === null ? error || 'an error' : error);
        const r = new FrameReader();
        r.push(w.take());
        const err = decodeErrorString(r.readValue()!);
        const decoded = decodeResponse(type, r.readValue()!);
        expect(r.buffered).toBe(0);
        if (resp === null) {
          // A bare error carries Go's zero-valued response.
          expect(err).toBe(error || 'an error');
          for (const [k, v] of Object.entries(decoded)) {
            if (k === 'rpcHeader') expect(v).toStrictEqual({ protocolVersion: 0, id: null, addr: null });
            else expect([0, false, null]).toContain(v);
          }
        } else {
          expect(err).toBe(error ?? '');
          same(norm(decoded), expectedResponse(type, resp, format));
        }
      }),
      RUNS,
    );
  });

  it('writes error strings as raw strings (a0-bf, da, db), never str8', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 }), (error) => {
        const w = new MessageWriter();
        w.writeResponse(RpcType.TimeoutNow, null, error);
        const out = w.take();
        const n = Buffer.byteLength(error);
        expect(out[0]).toBe(n < 32 ? 0xa0 | n : 0xda);
        expect(decodeErrorString(out.subarray(0, n < 32 ? 1 + n : 3 + n))).toBe(error);
      }),
      RUNS,
    );
  });
});

describe('streams', () => {
  it('many messages split into random chunks come out of FrameReader intact and in order', () => {
    const message = fc.oneof(
      anyRequest.map((m) => ({ kind: 'request' as const, ...m })),
      anyResponse.map((m) => ({ kind: 'response' as const, ...m })),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(message, fc.boolean()), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 50 }),
        formatArb,
        fc.boolean(),
        (messages, cuts, format, fresh) => {
          const w = new MessageWriter(format);
          const parts: Buffer[] = [];
          for (const [m, flush] of messages) {
            if (m.kind === 'request') w.writeRequest(m.type, m.req);
            else w.writeResponse(m.type, m.resp, m.error ?? (m.resp === null ? 'x' : undefined));
            if (flush) parts.push(w.take());
          }
          parts.push(w.take());
          const stream = Buffer.concat(parts);
          expect(stream.length).toBe(parts.reduce((n, p) => n + p.length, 0));

          // As a connection reads: the error string whole, commands in parts.
          const r = new FrameReader(undefined, { freshChunks: fresh });
          let at = 0;
          let cut = 0;
          const next = (): boolean => {
            if (at >= stream.length) return false;
            const n = cuts[cut++ % cuts.length]!;
            r.push(stream.subarray(at, at + n));
            at += n;
            return true;
          };
          const value = <T>(read: () => T | undefined): T => {
            for (;;) {
              const v = read();
              if (v !== undefined) return v;
              if (!next()) throw new Error('stream ended mid-value');
            }
          };
          const whole = (): Uint8Array => value(() => r.readValue());
          const inParts = (): Uint8Array | Uint8Array[] => value(() => r.readValueParts());
          for (const [m] of messages) {
            while (r.buffered === 0) if (!next()) throw new Error('stream ended early');
            if (m.kind === 'request') {
              expect(r.readByte()).toBe(m.type);
              same(norm(decodeRequest(m.type, inParts())), expectedRequest(m.type, m.req, format));
            } else {
              decodeErrorString(whole());
              const resp = decodeResponse(m.type, inParts());
              if (m.resp !== null) same(norm(resp), expectedResponse(m.type, m.resp, format));
            }
          }
          expect(next()).toBe(false);
          expect(r.buffered).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('every strict prefix of a value is "not yet" for FrameReader, and truncated for the decoder', () => {
    const small = typeArb.chain((type) => requestArb(type, smallBytes).map((req) => ({ type, req })));
    fc.assert(
      fc.property(small, formatArb, fc.nat(), ({ type, req }, format, seed) => {
        const body = encodeRequest(type, req, format).subarray(1);
        for (let k = 0; k < body.length; k++) {
          const r = new FrameReader();
          const split = k === 0 ? 0 : seed % k;
          r.push(body.subarray(0, split));
          expect(r.readValue()).toBeUndefined();
          r.push(body.subarray(split, k));
          expect(r.readValue()).toBeUndefined();
          expect(() => decodeRequest(type, body.subarray(0, k))).toThrow(ProtocolError);
        }
        const r = new FrameReader();
        r.push(body);
        expect(r.readValue()?.length).toBe(body.length);
      }),
      { numRuns: 100 },
    );
  });
});

/** `bytes` cut into consecutive pieces of the sizes in `cuts`, taken in turn; a 0 adds an empty piece. */
function piecesOf(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.min(cuts[i % cuts.length]!, bytes.length - at);
    if (n === 0) out.push(bytes.subarray(at, at)); // an empty piece; the next byte then comes alone
    const take = Math.max(n, 1);
    out.push(bytes.subarray(at, at + take));
    at += take;
  }
  return out;
}

/** `bytes` cut in two at every point in between. */
function cutsInTwo(bytes: Uint8Array): Uint8Array[][] {
  return Array.from({ length: bytes.length - 1 }, (_, i) => [bytes.subarray(0, i + 1), bytes.subarray(i + 1)]);
}

/** What a decode gives: its command, or its error's class and message. */
function outcome(fn: () => unknown): unknown {
  try {
    return { ok: norm(fn()) };
  } catch (err) {
    expect(isOurs(err)).toBe(true);
    return { error: (err as Error).constructor.name, message: (err as Error).message };
  }
}

/** Piece sizes for piecesOf: empty pieces, slivers, and larger ones. */
const piecesArb = fc.array(fc.oneof(fc.nat(3), fc.integer({ min: 1, max: 400 })), { minLength: 1, maxLength: 20 });

describe('values in parts (as FrameReader.readValueParts gives a value that spans socket reads)', () => {
  it('decode the same as the value whole, however they are cut', () => {
    const message = fc.oneof(
      anyRequest.map((m) => ({ kind: 'request' as const, ...m })),
      anyResponse.map((m) => ({ kind: 'response' as const, ...m })),
    );
    fc.assert(
      fc.property(message, formatArb, piecesArb, (m, format, cuts) => {
        const w = new MessageWriter(format);
        let body: Uint8Array;
        if (m.kind === 'request') {
          w.writeRequest(m.type, m.req);
          body = w.take().subarray(1);
        } else {
          if (m.resp === null) return;
          w.writeResponse(m.type, m.resp);
          const all = w.take();
          const r = new FrameReader();
          r.push(all);
          r.readValue(); // the error string
          body = r.readValue()!;
        }
        const pieces = piecesOf(body, cuts);
        const decode = (v: Uint8Array | Uint8Array[]): unknown =>
          m.kind === 'request' ? decodeRequest(m.type, v) : decodeResponse(m.type, v);
        const got = outcome(() => decode(pieces));
        expect(got).toStrictEqual(outcome(() => decode(body)));
        expect('ok' in (got as object)).toBe(true);
      }),
      RUNS,
    );
  });

  it('truncated, or followed by stray bytes, fail exactly as the value whole does', () => {
    const small = typeArb.chain((type) => requestArb(type, smallBytes).map((req) => ({ type, req })));
    fc.assert(
      fc.property(small, formatArb, piecesArb, fc.nat(), ({ type, req }, format, cuts, at) => {
        const body = encodeRequest(type, req, format).subarray(1);
        const k = at % body.length;
        const prefix = body.subarray(0, k);
        const longer = Buffer.concat([body, Buffer.from([0xc0, 0x01])]);
        for (const v of [prefix, longer]) {
          const whole = outcome(() => decodeRequest(type, v));
          expect(whole).toHaveProperty('error');
          expect(outcome(() => decodeRequest(type, piecesOf(v, cuts)))).toStrictEqual(whole);
        }
      }),
      RUNS,
    );
  });

  it('random bytes in random pieces: the same command or typed error as whole', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), typeArb, piecesArb, fc.boolean(), (data, type, cuts, asRequest) => {
        const decode = (v: Uint8Array | Uint8Array[]): unknown => (asRequest ? decodeRequest(type, v) : decodeResponse(type, v));
        expect(outcome(() => decode(piecesOf(data, cuts)))).toStrictEqual(outcome(() => decode(data)));
      }),
      { numRuns: 1000 },
    );
  });

  it('a value in parts larger than maxFrameSize is refused before decoding, like one whole', () => {
    const vote: AnyRequest = {
      rpcHeader: { protocolVersion: 3, id: null, addr: null },
      term: 7,
      candidate: Uint8Array.from([1, 2, 3]),
      lastLogIndex: 100,
      lastLogTerm: 6,
      leadershipTransfer: false,
    };
    const body = encodeRequest(RpcType.RequestVote, vote, {}).subarray(1);
    const limits = { maxFrameSize: body.length - 1, maxEntries: 10, maxDepth: 8 };
    const refused = outcome(() => decodeRequest(RpcType.RequestVote, piecesOf(body, [3]), limits));
    expect(refused).toStrictEqual(outcome(() => decodeRequest(RpcType.RequestVote, body, limits)));
    expect(refused).toMatchObject({ error: LimitExceededError.name });
    expect(() => decodeRequest(RpcType.RequestVote, piecesOf(body, [3]), { ...limits, maxFrameSize: body.length })).not.toThrow();
  });

  it('maxEntries and maxDepth hold in parts as whole', () => {
    const entries = [0, 1, 2].map((i) => ({ index: 10 + i, term: 2, type: 0 as LogType, data: null, extensions: null }));
    const append: AnyRequest = {
      rpcHeader: { protocolVersion: 3, id: null, addr: null },
      term: 2,
      leader: null,
      prevLogEntry: 9,
      prevLogTerm: 2,
      entries,
      leaderCommitIndex: 0,
    };
    const body = encodeRequest(RpcType.AppendEntries, append, {}).subarray(1);
    for (const limits of [
      { maxFrameSize: 1 << 20, maxEntries: 2, maxDepth: 8 },
      { maxFrameSize: 1 << 20, maxEntries: 100, maxDepth: 2 },
    ]) {
      const whole = outcome(() => decodeRequest(RpcType.AppendEntries, body, limits));
      expect(whole).toMatchObject({ error: LimitExceededError.name });
      for (const pieces of cutsInTwo(body)) {
        expect(outcome(() => decodeRequest(RpcType.AppendEntries, pieces, limits))).toStrictEqual(whole);
      }
    }
  });

  it('a nil entry is refused wherever the pieces are cut, even right before it', () => {
    // {Entries: [nil]}: 81 a7 "Entries" 91 c0
    const body = Uint8Array.from([0x81, 0xa7, ...Buffer.from('Entries'), 0x91, 0xc0]);
    const whole = outcome(() => decodeRequest(RpcType.AppendEntries, body));
    expect(whole).toMatchObject({ message: 'AppendEntriesRequest.Entries: nil entry' });
    for (const pieces of cutsInTwo(body)) {
      expect(outcome(() => decodeRequest(RpcType.AppendEntries, pieces))).toStrictEqual(whole);
    }
  });
});

describe('integers', () => {
  const INT_FIELDS: Record<RpcType, string[]> = {
    [RpcType.AppendEntries]: ['Term', 'PrevLogEntry', 'PrevLogTerm', 'LeaderCommitIndex', 'ProtocolVersion'],
    [RpcType.RequestVote]: ['Term', 'LastLogIndex', 'LastLogTerm', 'ProtocolVersion'],
    [RpcType.InstallSnapshot]: [
      'Term',
      'SnapshotVersion',
      'LastLogIndex',
      'LastLogTerm',
      'ConfigurationIndex',
      'Size',
      'ProtocolVersion',
    ],
    [RpcType.TimeoutNow]: ['ProtocolVersion'],
    [RpcType.RequestPreVote]: ['Term', 'LastLogIndex', 'LastLogTerm', 'ProtocolVersion'],
  };
  const fixstr = (s: string): number[] => [0xa0 | s.length, ...Buffer.from(s)];
  const u64 = (v: bigint): number[] => [...Buffer.from(v.toString(16).padStart(16, '0'), 'hex')];

  it('values above 2^53 - 1 on the wire (uint64 or int64) are InvalidValueError naming the field', () => {
    const big = fc.oneof(
      fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }).map((v) => [0xcf, ...u64(v)]),
      fc.bigInt({ min: 2n ** 53n, max: 2n ** 63n - 1n }).map((v) => [0xd3, ...u64(v)]),
    );
    const where = typeArb.chain((type) => fc.constantFrom(...INT_FIELDS[type]).map((field) => ({ type, field })));
    fc.assert(
      fc.property(where, big, fc.boolean(), ({ type, field }, value, inEntry) => {
        const bytes =
          inEntry && type === RpcType.AppendEntries
            ? Uint8Array.from([0x81, ...fixstr('Entries'), 0x91, 0x81, ...fixstr('Index'), ...value])
            : Uint8Array.from([0x81, ...fixstr(field), ...value]);
        const name = inEntry && type === RpcType.AppendEntries ? 'Index' : field;
        expect(() => decodeRequest(type, bytes)).toThrow(InvalidValueError);
        expect(() => decodeRequest(type, bytes)).toThrow(name);
        expect(() => libraryDecoder.decodeRequest(type, bytes)).toThrow(InvalidValueError);
      }),
      RUNS,
    );
  });

  it('negative integers are ProtocolError, and every integer width decodes', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: -1 }), (v) => {
        const encoded = libEncode({ Term: v });
        expect(() => decodeRequest(RpcType.AppendEntries, encoded)).toThrow(ProtocolError);
      }),
      { numRuns: 100 },
    );
    for (const v of [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      const forms = [libEncode({ Term: v }), libEncode({ Term: BigInt(v) }, { useBigInt64: true })];
      for (const bytes of forms)
        expect((decodeRequest(RpcType.TimeoutNow, bytes) as { rpcHeader: RPCHeader }).rpcHeader).toBeDefined();
      for (const bytes of forms) expect((decodeRequest(RpcType.RequestPreVote, bytes) as { term: number }).term).toBe(v);
    }
  });

  it('the encoder refuses values it cannot write exactly, names the field, and leaves no partial bytes', () => {
    const bad = fc.constantFrom<unknown>(
      -1,
      -0.5,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      2 ** 64,
      '1',
      1n,
      null,
      undefined,
    );
    const where = typeArb.chain((type) =>
      fc
        .constantFrom(...INT_FIELDS[type], ...(type === RpcType.AppendEntries ? ['Entries.Index', 'Entries.Type'] : []))
        .map((field) => ({ type, field })),
    );
    fc.assert(
      fc.property(where, bad, formatArb, ({ type, field }, value, format) => {
        const good = fc.sample(requestArb(type, smallBytes), { numRuns: 1, seed: 42 })[0]!;
        const req = structuredClone(good) as unknown as Record<string, unknown>;
        const prop =
          field === 'ProtocolVersion' ? 'protocolVersion' : field.replace(/^Entries\./, '').replace(/^./, (c) => c.toLowerCase());
        if (field === 'ProtocolVersion') (req.rpcHeader as Record<string, unknown>)[prop] = value;
        else if (field.startsWith('Entries.')) req.entries = [{ index: 1, term: 1, type: 0, data: null, [prop]: value }];
        else req[prop] = value;

        const w = new MessageWriter(format);
        w.writeRequest(type, good);
        const before = w.pending;
        expect(() => w.writeRequest(type, req as unknown as AnyRequest)).toThrow(InvalidValueError);
        expect(() => w.writeRequest(type, req as unknown as AnyRequest)).toThrow(field.replace('Entries.', ''));
        expect(w.pending).toBe(before);
        w.writeRequest(type, good);
        const once = encodeRequest(type, good, format);
        expect(w.take().equals(Buffer.concat([once, once]))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('hostile input', () => {
  it('random bytes through FrameReader only ever yield values or our typed errors', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }),
        (data, cuts) => {
          const r = new FrameReader({ maxFrameSize: 1 << 16 });
          let at = 0;
          let i = 0;
          try {
            while (at < data.length) {
              const n = cuts[i++ % cuts.length]!;
              r.push(data.subarray(at, at + n));
              at += n;
              for (;;) {
                if (r.midFrame || (i & 1) === 0) {
                  const v = r.readValue();
                  if (v === undefined) break;
                  expect(v.length).toBeGreaterThan(0);
                } else if (r.readByte() < 0) {
                  break;
                }
              }
            }
          } catch (err) {
            expect(isOurs(err)).toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('random bytes given to the decoders only ever yield commands or our typed errors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), typeArb, (data, type) => {
        for (const fn of [
          () => decodeRequest(type, data),
          () => decodeResponse(type, data),
          () => decodeErrorString(data),
          () => libraryDecoder.decodeRequest(type, data),
        ]) {
          try {
            fn();
          } catch (err) {
            expect(isOurs(err)).toBe(true);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('maps with Go keys but arbitrary values: typed errors only, the same result as the library-based decoder, and the same in parts', () => {
    const KEYS = [
      'Addr',
      'ID',
      'ProtocolVersion',
      'Term',
      'Leader',
      'Entries',
      'PrevLogEntry',
      'PrevLogTerm',
      'LeaderCommitIndex',
      'LastLog',
      'Success',
      'NoRetryBackoff',
      'Candidate',
      'LastLogIndex',
      'LastLogTerm',
      'LeadershipTransfer',
      'Peers',
      'Granted',
      'SnapshotVersion',
      'Configuration',
      'ConfigurationIndex',
      'Size',
      'Index',
      'Type',
      'Data',
      'Extensions',
      'AppendedAt',
      'Unknown',
      '__proto__',
      'constructor',
      'toString',
    ];
    const scalar = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.maxSafeNat(),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.double(),
      fc.string({ maxLength: 10 }),
      fc.uint8Array({ maxLength: 20 }),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('list'), tie('map')),
      list: fc.array(tie('value'), { maxLength: 4 }),
      // Object.fromEntries makes even "__proto__" an own key, which the encoder then writes.
      map: fc.array(fc.tuple(fc.constantFrom(...KEYS), tie('value')), { maxLength: 6 }).map((kv) => Object.fromEntries(kv)),
    }));
    const top = fc.array(fc.tuple(fc.constantFrom(...KEYS), value), { maxLength: 10 }).map((kv) => Object.fromEntries(kv));
    fc.assert(
      fc.property(top, typeArb, fc.boolean(), piecesArb, (map, type, asRequest, cuts) => {
        const bytes = libEncode(map, { useBigInt64: true });
        const run = (fn: () => unknown): { ok: unknown } | { err: unknown } => {
          try {
            return { ok: norm(fn()) };
          } catch (err) {
            expect(isOurs(err)).toBe(true);
            return { err };
          }
        };
        const ours = run(() => (asRequest ? decodeRequest(type, bytes) : decodeResponse(type, bytes)));
        const lib = run(() =>
          asRequest ? libraryDecoder.decodeRequest(type, bytes) : libraryDecoder.decodeResponse(type, bytes),
        );
        if ('ok' in ours && 'ok' in lib) expect(ours.ok).toStrictEqual(lib.ok);
        // Unknown keys of every kind are passed over across pieces, and nil entries refused, exactly as whole.
        const decode = (v: Uint8Array | Uint8Array[]): unknown => (asRequest ? decodeRequest(type, v) : decodeResponse(type, v));
        expect(outcome(() => decode(piecesOf(bytes, cuts)))).toStrictEqual(outcome(() => decode(bytes)));
        expect(Object.prototype).not.toHaveProperty('polluted');
      }),
      { numRuns: 500 },
    );
  });

  it('__proto__ and constructor keys are skipped like any unknown key, polluting nothing', () => {
    const bytes = libEncode(
      Object.fromEntries([
        ['__proto__', { polluted: 1 }],
        ['constructor', 5],
        ['Term', 3],
      ]),
    );
    expect(Buffer.from(bytes).toString('hex')).toMatch(/^83a95f5f70726f746f5f5f/); // the key really is on the wire
    const req = decodeRequest(RpcType.RequestPreVote, bytes) as unknown as Record<string, unknown>;
    expect(req.term).toBe(3);
    expect(Object.getPrototypeOf(req)).toBe(Object.prototype);
    expect(req.constructor).toBe(Object);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
