/** Encoder and decoder details the golden and property tests don't pin down on their own. */
import { encode as libEncode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import {
  RpcType,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type InstallSnapshotRequest,
  type Log,
  type RequestPreVoteRequest,
  type TimeoutNowRequest,
} from '../../../src/commands.ts';
import { InvalidValueError, LimitExceededError, ProtocolError } from '../../../src/errors.ts';
import { decodeErrorString, decodeRequest, decodeResponse } from '../../../src/net/codec/decoder.ts';
import { MessageWriter } from '../../../src/net/codec/encoder.ts';
import { DEFAULT_DECODE_LIMITS } from '../../../src/net/codec/wire-format.ts';

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const fixstr = (s: string): string => (0xa0 | s.length).toString(16) + Buffer.from(s).toString('hex');
const header = { protocolVersion: 3 };

function heartbeat(overrides: Partial<AppendEntriesRequest> = {}): AppendEntriesRequest {
  return {
    rpcHeader: header,
    term: 1,
    leader: null,
    prevLogEntry: 0,
    prevLogTerm: 0,
    entries: null,
    leaderCommitIndex: 0,
    ...overrides,
  };
}

function entry(overrides: Partial<Log> = {}): Log {
  return { index: 1, term: 1, type: 0, data: null, ...overrides };
}

/** Encodes a TimeoutNow-shaped request whose only interesting field is ProtocolVersion. */
function protocolVersionBytes(v: number, fields: 'latest' | 'v1.1'): string {
  const w = new MessageWriter({ fields });
  const req: TimeoutNowRequest = { rpcHeader: { protocolVersion: v } };
  w.writeRequest(RpcType.TimeoutNow, req);
  return hex(w.take()).split(fixstr('ProtocolVersion'))[1]!;
}

/** The bytes written for AppendEntriesRequest.Term = v (always an unsigned uint64). */
function termBytes(v: number): string {
  const w = new MessageWriter();
  w.writeRequest(RpcType.AppendEntries, heartbeat({ term: v }));
  return hex(w.take()).split(fixstr('Term'))[1]!;
}

describe('MessageWriter', () => {
  it('writes unsigned integers in the smallest width', () => {
    const cases: Array<[number, string]> = [
      [0, '00'],
      [127, '7f'],
      [128, 'cc80'],
      [255, 'ccff'],
      [256, 'cd0100'],
      [65535, 'cdffff'],
      [65536, 'ce00010000'],
      [2 ** 32 - 1, 'ceffffffff'],
      [2 ** 32, 'cf0000000100000000'],
      [Number.MAX_SAFE_INTEGER, 'cf001fffffffffffff'],
    ];
    for (const [v, want] of cases) expect(termBytes(v)).toBe(want);
  });

  it('writes Go int fields signed above 127 with the latest rules, unsigned with the 1.1 rules', () => {
    const cases: Array<[number, string, string]> = [
      [127, '7f', '7f'],
      [128, 'd10080', 'cc80'],
      [32767, 'd17fff', 'cd7fff'],
      [32768, 'd200008000', 'cd8000'],
      [2 ** 31, 'd30000000080000000', 'ce80000000'],
    ];
    for (const [v, latest, v11] of cases) {
      expect(protocolVersionBytes(v, 'latest')).toBe(latest);
      expect(protocolVersionBytes(v, 'v1.1')).toBe(v11);
    }
  });

  it('writes []byte as raw strings with the right header at every boundary, nil as c0', () => {
    const cases: Array<[Uint8Array | null, string]> = [
      [null, 'c0'],
      [new Uint8Array(0), 'a0'],
      [new Uint8Array(31), 'bf'],
      [new Uint8Array(32), 'da0020'],
      [new Uint8Array(255), 'da00ff'],
      [new Uint8Array(65535), 'daffff'],
      [new Uint8Array(65536), 'db00010000'],
    ];
    for (const [leader, want] of cases) {
      const w = new MessageWriter();
      w.writeRequest(RpcType.AppendEntries, heartbeat({ leader }));
      const out = hex(w.take());
      expect(out.split(fixstr('Leader'))[1]!.startsWith(want)).toBe(true);
    }
  });

  it('writes nil entries as c0, empty as 90, 16 or more with an array16 header', () => {
    const entriesBytes = (entries: Log[] | null): string => {
      const w = new MessageWriter({ fields: 'v1.1' });
      w.writeRequest(RpcType.AppendEntries, heartbeat({ entries }));
      return hex(w.take()).split(fixstr('Entries'))[1]!.slice(0, 6);
    };
    expect(entriesBytes(null).slice(0, 2)).toBe('c0');
    expect(entriesBytes([]).slice(0, 2)).toBe('90');
    expect(entriesBytes([entry()]).slice(0, 2)).toBe('91');
    expect(entriesBytes(Array.from({ length: 16 }, () => entry()))).toBe('dc0010');
  });

  it('hands out buffers that later writes never touch, across slab changes', () => {
    const w = new MessageWriter();
    const taken: Array<[Buffer, string]> = [];
    for (let i = 0; i < 2000; i++) {
      w.writeRequest(RpcType.AppendEntries, heartbeat({ term: i, leader: new Uint8Array(i % 300).fill(i & 0xff) }));
      if (i % 7 === 0) {
        const b = w.take();
        taken.push([b, hex(b)]);
      }
    }
    w.writeRequest(RpcType.AppendEntries, heartbeat({ entries: [entry({ data: new Uint8Array(200_000) })] }));
    taken.push([w.take(), '']);
    for (const [b, want] of taken.slice(0, -1)) expect(hex(b)).toBe(want);
    expect(w.pending).toBe(0);
    expect(w.take().length).toBe(0);
  });

  it('keeps a batch of many messages contiguous when the slab has to grow', () => {
    const w = new MessageWriter();
    const one = new MessageWriter();
    const req = heartbeat({ entries: [entry({ data: new Uint8Array(1000).fill(7) })] });
    one.writeRequest(RpcType.AppendEntries, req);
    const single = hex(one.take());
    for (let i = 0; i < 300; i++) w.writeRequest(RpcType.AppendEntries, req);
    expect(w.pending).toBe((single.length / 2) * 300);
    expect(hex(w.take())).toBe(single.repeat(300));
  });

  it('drops ID/Addr (and AppendedAt) with fields v1.1, and writes RequestPreVote without them', () => {
    const w = new MessageWriter({ fields: 'v1.1' });
    const req: RequestPreVoteRequest = {
      rpcHeader: { protocolVersion: 3, id: unhex('01'), addr: unhex('02') },
      term: 1,
      lastLogIndex: 2,
      lastLogTerm: 3,
    };
    w.writeRequest(RpcType.RequestPreVote, req);
    expect(hex(w.take())).toBe(
      `0484${fixstr('LastLogIndex')}02${fixstr('LastLogTerm')}03${fixstr('ProtocolVersion')}03${fixstr('Term')}01`,
    );
  });

  it('writes a zero-valued response beside a bare error, and UTF-8 errors as raw strings', () => {
    const w = new MessageWriter();
    w.writeResponse(RpcType.AppendEntries, null, 'déjà vu');
    const out = w.take();
    expect(out[0]).toBe(0xa0 | Buffer.byteLength('déjà vu'));
    expect(decodeErrorString(out.subarray(0, 10))).toBe('déjà vu');
    const resp = decodeResponse(RpcType.AppendEntries, out.subarray(10)) as AppendEntriesResponse;
    expect(resp).toStrictEqual({
      rpcHeader: { protocolVersion: 0, id: null, addr: null },
      term: 0,
      lastLog: 0,
      success: false,
      noRetryBackoff: false,
    });
  });

  it('refuses malformed commands with InvalidValueError naming the field, writing nothing', () => {
    const w = new MessageWriter();
    const bad: Array<[RpcType, unknown, string]> = [
      [RpcType.AppendEntries, heartbeat({ leader: 'x' as unknown as Uint8Array }), 'Leader'],
      [RpcType.AppendEntries, heartbeat({ entries: {} as unknown as Log[] }), 'Entries'],
      [RpcType.AppendEntries, heartbeat({ entries: [null as unknown as Log] }), 'Entries'],
      [RpcType.AppendEntries, heartbeat({ entries: [entry({ type: 256 as Log['type'] })] }), 'Type'],
      [RpcType.AppendEntries, heartbeat({ entries: [entry({ appendedAt: new Date(Number.NaN) })] }), 'AppendedAt'],
      [RpcType.AppendEntries, heartbeat({ entries: [entry({ appendedAt: 5 as unknown as Date })] }), 'AppendedAt'],
      [RpcType.AppendEntries, { ...heartbeat(), rpcHeader: undefined }, 'rpcHeader'],
      [
        RpcType.RequestVote,
        { rpcHeader: header, term: 1, candidate: null, lastLogIndex: 0, lastLogTerm: 0, leadershipTransfer: 'yes' },
        'LeadershipTransfer',
      ],
      [7 as RpcType, heartbeat(), 'unknown RPC type 7'],
    ];
    for (const [type, req, field] of bad) {
      expect(() => w.writeRequest(type, req as AppendEntriesRequest)).toThrow(InvalidValueError);
      expect(() => w.writeRequest(type, req as AppendEntriesRequest)).toThrow(field);
      expect(w.pending).toBe(0);
    }
    expect(() => w.writeResponse(RpcType.AppendEntries, null, 5 as unknown as string)).toThrow(InvalidValueError);
    expect(() => new MessageWriter({ fields: 'v2' as 'latest' })).toThrow(RangeError);
  });

  it('accepts Buffers and subarrays for byte fields', () => {
    const backing = Buffer.from('xxhelloxx');
    const w = new MessageWriter();
    w.writeRequest(RpcType.AppendEntries, heartbeat({ leader: backing.subarray(2, 7) }));
    const req = decodeRequest(RpcType.AppendEntries, w.take().subarray(1)) as AppendEntriesRequest;
    expect(Buffer.from(req.leader!).toString()).toBe('hello');
  });
});

describe('decodeRequest / decodeResponse', () => {
  const enc = (v: unknown): Uint8Array => libEncode(v, { useBigInt64: true });

  it('fills missing keys (and a nil map) with Go zero values, canonically', () => {
    const want: InstallSnapshotRequest = {
      rpcHeader: { protocolVersion: 0, id: null, addr: null },
      snapshotVersion: 0,
      term: 0,
      leader: null,
      lastLogIndex: 0,
      lastLogTerm: 0,
      peers: null,
      configuration: null,
      configurationIndex: 0,
      size: 0,
    };
    expect(decodeRequest(RpcType.InstallSnapshot, unhex('80'))).toStrictEqual(want);
    expect(decodeRequest(RpcType.InstallSnapshot, unhex('c0'))).toStrictEqual(want);
    const withNils = enc({ Term: null, Leader: null, Size: null });
    expect(decodeRequest(RpcType.InstallSnapshot, withNils)).toStrictEqual(want);
  });

  it('names the field when a known key has the wrong type', () => {
    const cases: Array<[RpcType, unknown, string]> = [
      [RpcType.AppendEntries, { Term: 'seven' }, 'AppendEntriesRequest.Term'],
      [RpcType.AppendEntries, { Leader: 5 }, 'AppendEntriesRequest.Leader'],
      [RpcType.AppendEntries, { Entries: { a: 1 } }, 'AppendEntriesRequest.Entries'],
      [RpcType.AppendEntries, { Entries: [{ Data: true }] }, 'Log.Data'],
      [RpcType.AppendEntries, { Entries: [{ AppendedAt: 5 }] }, 'Log.AppendedAt'],
      [RpcType.AppendEntries, { Entries: [{ AppendedAt: new Uint8Array(3) }] }, 'Log.AppendedAt'],
      [RpcType.AppendEntries, { Entries: [{ Type: 256 }] }, 'Log.Type'],
      [RpcType.AppendEntries, { Entries: [null] }, 'Entries'],
      [RpcType.AppendEntries, { Entries: [5] }, 'Entries'],
      [RpcType.RequestVote, { LeadershipTransfer: 'true' }, 'RequestVoteRequest.LeadershipTransfer'],
      [RpcType.RequestVote, { LastLogIndex: 1.5 }, 'RequestVoteRequest.LastLogIndex'],
      [RpcType.InstallSnapshot, { Size: -1 }, 'InstallSnapshotRequest.Size'],
      [RpcType.TimeoutNow, { ID: [1] }, 'TimeoutNowRequest.ID'],
      [RpcType.RequestPreVote, [1, 2], 'RequestPreVoteRequest'],
    ];
    for (const [type, value, field] of cases) {
      expect(() => decodeRequest(type, enc(value))).toThrow(ProtocolError);
      expect(() => decodeRequest(type, enc(value))).toThrow(field);
    }
    expect(() => decodeResponse(RpcType.AppendEntries, enc({ Success: 'no' }))).toThrow('AppendEntriesResponse.Success');
  });

  it('takes 0/1 as booleans (as go-msgpack does), and str8/bin for byte fields', () => {
    const r = decodeResponse(RpcType.AppendEntries, enc({ Success: 1, NoRetryBackoff: 0 })) as AppendEntriesResponse;
    expect([r.success, r.noRetryBackoff]).toEqual([true, false]);
    const str8 = `81${fixstr('Leader')}d903616263`;
    const bin8 = `81${fixstr('Leader')}c403616263`;
    for (const bytes of [str8, bin8]) {
      expect(hex((decodeRequest(RpcType.AppendEntries, unhex(bytes)) as AppendEntriesRequest).leader!)).toBe('616263');
    }
  });

  it('skips unknown keys whatever they hold', () => {
    const bytes = enc({
      Future: { a: [1, { b: 'c' }], d: new Uint8Array(3), e: 1.5, f: -7, g: 2n ** 63n },
      Term: 9,
      Other: null,
    });
    expect((decodeRequest(RpcType.RequestPreVote, bytes) as RequestPreVoteRequest).term).toBe(9);
  });

  it('returns byte fields as views of the input, not copies', () => {
    const bytes = enc({ Leader: new Uint8Array([1, 2, 3]) });
    const req = decodeRequest(RpcType.AppendEntries, bytes) as AppendEntriesRequest;
    expect(req.leader!.buffer).toBe(bytes.buffer);
  });

  it('rejects truncation, trailing bytes, non-string keys, extensions and unknown types', () => {
    expect(() => decodeRequest(RpcType.TimeoutNow, unhex('81'))).toThrow(ProtocolError);
    expect(() => decodeRequest(RpcType.TimeoutNow, unhex('80c0'))).toThrow(ProtocolError);
    expect(() => decodeRequest(RpcType.TimeoutNow, unhex('810101'))).toThrow(ProtocolError);
    expect(() => decodeRequest(RpcType.TimeoutNow, unhex(`81${fixstr('X')}d40100`))).toThrow(ProtocolError);
    expect(() => decodeRequest(RpcType.TimeoutNow, unhex(`81${fixstr('X')}c1`))).toThrow(ProtocolError);
    expect(() => decodeRequest(9 as RpcType, unhex('80'))).toThrow('unknown rpc type 9');
    expect(() => decodeResponse(9 as RpcType, unhex('80'))).toThrow(ProtocolError);
  });

  it('applies the limits', () => {
    const limits = { ...DEFAULT_DECODE_LIMITS, maxEntries: 2, maxDepth: 4 };
    const three = enc({ Entries: [{}, {}, {}] });
    expect(() => decodeRequest(RpcType.AppendEntries, three, limits)).toThrow(LimitExceededError);
    expect(decodeRequest(RpcType.AppendEntries, three)).toBeDefined();
    const deep = enc({ X: [[[[[1]]]]] });
    expect(() => decodeRequest(RpcType.TimeoutNow, deep, limits)).toThrow(LimitExceededError);
    expect(() => decodeRequest(RpcType.TimeoutNow, enc({ X: 1 }), { ...limits, maxFrameSize: 3 })).toThrow(LimitExceededError);
  });
});

describe('decodeErrorString', () => {
  it('decodes empty, nil and UTF-8 strings; replaces invalid UTF-8; rejects other types', () => {
    expect(decodeErrorString(unhex('a0'))).toBe('');
    expect(decodeErrorString(unhex('c0'))).toBe('');
    expect(decodeErrorString(unhex('a3616263'))).toBe('abc');
    expect(decodeErrorString(unhex('a2ff61'))).toBe('\uFFFDa');
    expect(() => decodeErrorString(unhex('01'))).toThrow(ProtocolError);
    expect(() => decodeErrorString(unhex('a3'))).toThrow(ProtocolError);
  });
});

describe('MessageWriter slab reuse', () => {
  const bigEntry = (fill: number) => ({
    rpcHeader: { protocolVersion: 3 },
    term: 1,
    leader: null,
    prevLogEntry: 0,
    prevLogTerm: 0,
    entries: [{ index: 1, term: 1, type: 0 as const, data: new Uint8Array(100_000).fill(fill) }],
    leaderCommitIndex: 0,
  });

  it('never overwrites a taken region that was not released', () => {
    const w2 = new MessageWriter();
    const views: Array<[Buffer, Buffer]> = [];
    for (let i = 0; i < 20; i++) {
      w2.writeRequest(0, bigEntry(i));
      const view = w2.take();
      views.push([view, Buffer.from(view)]);
    }
    for (const [view, copy] of views) expect(view.equals(copy)).toBe(true);
  });

  it('reuses released slabs instead of allocating new ones', () => {
    const w = new MessageWriter();
    const seen = new Set<ArrayBufferLike>();
    for (let i = 0; i < 50; i++) {
      w.writeRequest(0, bigEntry(i & 0xff));
      const out = w.take();
      expect(out.indexOf(Buffer.alloc(1000, i & 0xff))).toBeGreaterThan(0);
      seen.add(out.buffer);
      w.releaser()();
    }
    // 50 × ~100 KB through 256 KiB slabs: a handful of slabs, not twenty.
    expect(seen.size).toBeLessThanOrEqual(4);
  });
});
