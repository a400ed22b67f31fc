/**
 * Property: what a FrameReader hands out never aliases memory its writer may
 * write again. Random streams of requests (snapshot bytes included) are cut
 * into random chunks, each in memory of its own, and read as a connection
 * reads them (type byte, value, raw snapshot bytes). Without `freshChunks`
 * the writer then reuses its chunks as soon as the reader no longer needs
 * them (a chunk under 1 KiB at once, a larger one once all of it was read)
 * and overwrites every one at the end; everything decoded must be unchanged.
 * With `freshChunks` nobody writes the chunks again, and what was decoded
 * (views included) must equal what was sent.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AnyRequest, type Bytes, type InstallSnapshotRequest, RpcType } from '../../../src/commands.ts';
import { decodeRequest } from '../../../src/net/codec/decoder.ts';
import { MessageWriter } from '../../../src/net/codec/encoder.ts';
import { FrameReader } from '../../../src/net/codec/frame-reader.ts';
import { appendReq, enc, entry, snapshotReq, voteReq } from '../../helpers/fixtures.ts';

/** Chunks shorter than this are copied by push() (FrameReader.push's documented threshold). */
const COPIED_AT_PUSH = 1024;
/** What the writer overwrites a reused chunk with: a byte msgpack never uses. */
const REUSED = 0xc1;

/** `n` pseudo-random bytes from `seed` (xorshift32), in an ArrayBuffer of their own. */
function bytesOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** A byte field as [length, seed] (null: nil), so a counterexample prints short. */
type BytesSpec = [number, number] | null;
/** A byte field: nil, a few bytes, or a large one (large enough to fill half of a read chunk). */
const bytesArb: fc.Arbitrary<BytesSpec> = fc.oneof(
  fc.constant(null),
  fc.tuple(fc.nat(40), fc.nat()),
  fc.tuple(fc.integer({ min: 1000, max: 40_000 }), fc.nat()),
);
const bytesFrom = (spec: BytesSpec): Bytes => (spec === null ? null : bytesOf(spec[0], spec[1]));

/** One request, and for InstallSnapshot the raw bytes that follow it. */
interface Message {
  type: RpcType;
  req: AnyRequest;
  raw?: Uint8Array;
}

type MessageSpec =
  | { append: Array<[BytesSpec, BytesSpec]>; id: BytesSpec; leader: BytesSpec }
  | { vote: BytesSpec }
  | { snapshot: BytesSpec; size: number; seed: number };

const messageArb: fc.Arbitrary<MessageSpec> = fc.oneof(
  fc.record({ append: fc.array(fc.tuple(bytesArb, bytesArb), { maxLength: 4 }), id: bytesArb, leader: bytesArb }),
  fc.record({ vote: bytesArb }),
  fc.record({ snapshot: bytesArb, size: fc.nat(50_000), seed: fc.nat() }),
);

function message(spec: MessageSpec): Message {
  if ('append' in spec) {
    return {
      type: RpcType.AppendEntries,
      req: appendReq({
        rpcHeader: { protocolVersion: 3, id: bytesFrom(spec.id), addr: enc('leader-addr') },
        leader: bytesFrom(spec.leader),
        entries: spec.append.map(([data, extensions], i) => ({
          ...entry(101 + i, bytesFrom(data)),
          extensions: bytesFrom(extensions),
        })),
      }),
    };
  }
  if ('vote' in spec) return { type: RpcType.RequestVote, req: voteReq({ candidate: bytesFrom(spec.vote) }) };
  return {
    type: RpcType.InstallSnapshot,
    req: snapshotReq(spec.size, { configuration: bytesFrom(spec.snapshot) }),
    raw: bytesOf(spec.size, spec.seed),
  };
}

/** Chunk sizes, used in turn: a trickle, typical reads, and up to a 64 KiB read and beyond. */
const cutsArb = fc.array(fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 70_000 })), {
  minLength: 1,
  maxLength: 30,
});

function encode(m: Message): Buffer {
  const w = new MessageWriter();
  w.writeRequest(m.type, m.req);
  return Buffer.from(w.take());
}

interface Decoded {
  type: RpcType;
  req: AnyRequest;
  /** The raw (snapshot) pieces readRaw() returned after it. */
  raw: Uint8Array[];
}

interface Outcome {
  decoded: Decoded[];
  /** Every chunk pushed, in memory of its own. */
  chunks: Uint8Array[];
}

/**
 * Pushes the stream in chunks cut at `cuts` and reads after each push as a
 * server connection does (values in parts; whole with `parts` false). With
 * `reuse`, overwrites each chunk once the reader no longer needs it, and all
 * of them at the end.
 */
function run(messages: Message[], cuts: number[], fresh: boolean, reuse: boolean, parts = true): Outcome {
  const stream = Buffer.concat(messages.flatMap((m) => (m.raw === undefined ? [encode(m)] : [encode(m), m.raw])));
  const r = new FrameReader(undefined, { freshChunks: fresh });
  const decoded: Decoded[] = [];
  const chunks: Uint8Array[] = [];
  /** Stream offset where each chunk ends, and whether it was reused yet. */
  const ends: number[] = [];
  let reusedUpTo = 0;
  let type = -1;
  let snapshotLeft = 0;

  const read = (): void => {
    for (;;) {
      if (snapshotLeft > 0) {
        const raw = r.readRaw(snapshotLeft);
        if (raw === undefined) return;
        snapshotLeft -= raw.length;
        decoded[decoded.length - 1]!.raw.push(raw);
        continue;
      }
      if (type < 0) {
        type = r.readByte();
        if (type < 0) return;
      }
      const value = parts ? r.readValueParts() : r.readValue();
      if (value === undefined) return;
      const req = decodeRequest(type as RpcType, value);
      decoded.push({ type: type as RpcType, req, raw: [] });
      if (type === RpcType.InstallSnapshot) snapshotLeft = (req as InstallSnapshotRequest).size;
      type = -1;
    }
  };

  let at = 0;
  for (let i = 0; at < stream.length; i++) {
    const n = Math.min(cuts[i % cuts.length]!, stream.length - at);
    const chunk = new Uint8Array(n); // memory of its own, as a socket read gives
    chunk.set(stream.subarray(at, at + n));
    at += n;
    chunks.push(chunk);
    ends.push(at);
    r.push(chunk);
    if (reuse && n < COPIED_AT_PUSH) chunk.fill(REUSED);
    read();
    if (reuse) {
      const consumed = at - r.buffered;
      for (; reusedUpTo < chunks.length && ends[reusedUpTo]! <= consumed; reusedUpTo++) chunks[reusedUpTo]!.fill(REUSED);
    }
  }
  expect(r.buffered).toBe(0);
  if (reuse) for (const c of chunks) c.fill(0);
  return { decoded, chunks };
}

/** Everything decoded equals what was sent: each request re-encodes to the same bytes, and snapshot bytes match. */
function expectSent(messages: Message[], decoded: Decoded[]): void {
  expect(decoded.map((d) => d.type)).toEqual(messages.map((m) => m.type));
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const d = decoded[i]!;
    expect(encode({ type: d.type, req: d.req }).equals(encode(m))).toBe(true);
    expect(Buffer.concat(d.raw).equals(m.raw ?? Buffer.alloc(0))).toBe(true);
  }
}

/** Byte fields and raw pieces of what was decoded. */
function keptBytes(decoded: Decoded[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  const add = (b: Bytes | undefined): void => {
    if (b !== null && b !== undefined) out.push(b);
  };
  for (const d of decoded) {
    const req = d.req as unknown as Record<string, unknown>;
    const header = req.rpcHeader as { id?: Bytes; addr?: Bytes };
    add(header.id);
    add(header.addr);
    for (const key of ['leader', 'candidate', 'configuration', 'peers'] as const) add(req[key] as Bytes | undefined);
    if (d.type === RpcType.AppendEntries) {
      for (const e of (req.entries as Array<{ data: Bytes; extensions: Bytes }> | null) ?? []) {
        add(e.data);
        add(e.extensions);
      }
    }
    out.push(...d.raw);
  }
  return out;
}

const messagesArb = fc.array(messageArb, { minLength: 1, maxLength: 12 });

/** Cases the random ones may miss. A 30 KiB entry and 50 KiB of snapshot, read in 64 KiB chunks: */
const big: [MessageSpec[], number[]] = [
  [
    { append: [[[30_000, 1], null]], id: null, leader: null },
    { snapshot: null, size: 50_000, seed: 2 },
  ],
  [64 * 1024],
];
/** The same 30 KiB entry in 20 KB reads: the request spans chunks, so it is read in parts. */
const spanning: [MessageSpec[], number[]] = [[{ append: [[[30_000, 1], null]], id: null, leader: null }], [20_000]];

describe('FrameReader memory (property)', () => {
  it('without freshChunks, nothing decoded changes when the writer reuses every chunk it pushed', () => {
    fc.assert(
      fc.property(messagesArb, cutsArb, fc.boolean(), (specs, cuts, parts) => {
        const messages = specs.map(message);
        const { decoded, chunks } = run(messages, cuts, false, true, parts);
        expectSent(messages, decoded);
        const pushed = new Set<ArrayBufferLike>(chunks.map((c) => c.buffer));
        expect(keptBytes(decoded).filter((b) => pushed.has(b.buffer))).toHaveLength(0);
      }),
      {
        numRuns: 150,
        examples: [
          [...big, true],
          [...spanning, true],
        ],
      },
    );
  });

  it('with freshChunks, everything decoded, views of the chunks included, equals what was sent', () => {
    let views = 0;
    fc.assert(
      fc.property(messagesArb, cutsArb, fc.boolean(), (specs, cuts, parts) => {
        const messages = specs.map(message);
        const { decoded, chunks } = run(messages, cuts, true, false, parts);
        expectSent(messages, decoded);
        const pushed = new Set<ArrayBufferLike>(chunks.map((c) => c.buffer));
        views += keptBytes(decoded).filter((b) => pushed.has(b.buffer)).length;
      }),
      {
        numRuns: 150,
        examples: [
          [...big, true],
          [...spanning, true],
        ],
      },
    );
    // The fast path was taken (at least by the fixed example): the property covered views.
    expect(views).toBeGreaterThan(0);
  });
});
