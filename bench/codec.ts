/**
 * Micro-benchmark of the wire codec: `npx tsx bench/codec.ts`.
 *
 * For a heartbeat, an AppendEntries with one 128-byte entry and one with
 * 64×1 KiB entries it measures:
 * - our encoder (MessageWriter, Go-exact bytes), with and without slab reuse,
 * - @msgpack/msgpack's encode of the same Go-shaped map (it can't produce Go's
 *   raw strings, but shows what a generic encoder costs),
 * - FrameReader framing alone, and our full decode path (frame + decode),
 * - decode plus a copy of each byte field (what owning fields one by one costs),
 * - the generic @msgpack/msgpack decode alone (what decoding costs before any
 *   mapping to typed commands).
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { RpcType, type AppendEntriesRequest, type Log } from '../src/commands.ts';
import { decodeRequest } from '../src/net/codec/decoder.ts';
import { libraryDecoder } from '../test/helpers/library-decoder.ts';
import { MessageWriter } from '../src/net/codec/encoder.ts';
import { FrameReader } from '../src/net/codec/frame-reader.ts';
import { PreciseDate } from '../src/net/codec/go-time.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const header = { protocolVersion: 3, id: text('node-1'), addr: text('127.0.0.1:7000') };

function entries(count: number, size: number): Log[] {
  const at = PreciseDate.fromISOString('2026-11-21T10:30:00.123456789Z');
  return Array.from({ length: count }, (_, i) => ({
    index: 1000 + i,
    term: 7,
    type: 0,
    data: Buffer.alloc(size, i),
    extensions: null,
    appendedAt: at,
  }));
}

function append(es: Log[] | null): AppendEntriesRequest {
  return {
    rpcHeader: header,
    term: 7,
    leader: header.addr,
    prevLogEntry: es ? 999 : 0,
    prevLogTerm: es ? 7 : 0,
    entries: es,
    leaderCommitIndex: es ? 998 : 0,
  };
}

/** The same message as the generic map a Go-agnostic msgpack library would be given. */
function goShape(r: AppendEntriesRequest): Record<string, unknown> {
  return {
    Addr: r.rpcHeader.addr,
    Entries:
      r.entries?.map((e) => ({
        AppendedAt: new Uint8Array(15),
        Data: e.data,
        Extensions: e.extensions,
        Index: e.index,
        Term: e.term,
        Type: e.type,
      })) ?? null,
    ID: r.rpcHeader.id,
    Leader: r.leader,
    LeaderCommitIndex: r.leaderCommitIndex,
    PrevLogEntry: r.prevLogEntry,
    PrevLogTerm: r.prevLogTerm,
    ProtocolVersion: r.rpcHeader.protocolVersion,
    Term: r.term,
  };
}

/**
 * Operations per second of `fn`: the best of five ~150 ms rounds after a
 * warm-up, since the best round is the least disturbed by GC and other load.
 */
function measure(fn: () => void, roundMs = 150): number {
  const run = (ms: number): number => {
    let ops = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(ms * 1e6);
    let now = start;
    while (now < end) {
      for (let i = 0; i < 50; i++) fn();
      ops += 50;
      now = process.hrtime.bigint();
    }
    return (ops * 1e9) / Number(now - start);
  };
  run(roundMs);
  let best = 0;
  for (let i = 0; i < 5; i++) best = Math.max(best, run(roundMs));
  return best;
}

const cases: Array<[string, AppendEntriesRequest]> = [
  ['heartbeat', append(null)],
  ['1×128 B', append(entries(1, 128))],
  ['64×1 KiB', append(entries(64, 1024))],
];

const fmt = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`).padStart(9);
const writer = new MessageWriter();
const generic = new Encoder();
const genericDecoder = new Decoder({ rawStrings: true, useBigInt64: true });
const reader = new FrameReader();
let sink = 0;

const rows: string[][] = [];
for (const [name, req] of cases) {
  writer.writeRequest(RpcType.AppendEntries, req);
  const wire = writer.take();
  const body = wire.subarray(1);
  const shape = goShape(req);

  const encode = measure(() => {
    writer.writeRequest(RpcType.AppendEntries, req);
    sink += writer.take().length;
  });
  const encodeReuse = measure(() => {
    writer.writeRequest(RpcType.AppendEntries, req);
    sink += writer.take().length;
    writer.releaser()(); // as BatchWriter does on a net.Socket: the slab is reused
  });
  const encodeGeneric = measure(() => {
    sink += generic.encode(shape).length;
  });
  const frame = measure(() => {
    reader.push(wire);
    reader.readByte();
    sink += reader.readValue()!.length;
  });
  const decode = measure(() => {
    sink += (decodeRequest(RpcType.AppendEntries, body) as AppendEntriesRequest).term;
  });
  const decodeCopyFields = measure(() => {
    // The rejected alternative to FrameReader's one copy per value: a copy per byte field.
    const r = decodeRequest(RpcType.AppendEntries, body) as AppendEntriesRequest;
    const es = r.entries;
    if (es !== null) for (let i = 0; i < es.length; i++) sink += Uint8Array.prototype.slice.call(es[i]!.data!).length;
    sink += r.term;
  });
  const decodeLibrary = measure(() => {
    sink += (libraryDecoder.decodeRequest(RpcType.AppendEntries, body) as AppendEntriesRequest).term;
  });
  const decodeGeneric = measure(() => {
    sink += (genericDecoder.decode(body) as { Term: number }).Term;
  });
  const roundTrip = measure(() => {
    writer.writeRequest(RpcType.AppendEntries, req);
    reader.push(writer.take());
    const t = reader.readByte() as RpcType;
    sink += (decodeRequest(t, reader.readValue()!) as AppendEntriesRequest).term;
  });
  rows.push([
    name,
    String(wire.length),
    fmt(encode),
    fmt(encodeReuse),
    fmt(encodeGeneric),
    fmt(frame),
    fmt(decode),
    fmt(decodeCopyFields),
    fmt(decodeLibrary),
    fmt(decodeGeneric),
    `${(decode / decodeLibrary).toFixed(1)}×`,
    fmt(roundTrip),
  ]);
}

const head = [
  'AppendEntries',
  'bytes',
  'encode',
  'enc reuse',
  'lib encode',
  'frame',
  'decode',
  'dec+copy',
  'lib decode',
  'lib parse',
  'gain',
  'enc+frame+dec',
];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
console.log(`ops/s, node ${process.version}`);
console.log(line(head));
for (const r of rows) console.log(line(r));
console.log(`
encode         MessageWriter.writeRequest + take (Go-exact bytes), slab never reused (any Duplex)
enc reuse      the same, releasing each region so the slab is reused (only on a net.Socket)
lib encode     @msgpack/msgpack Encoder.encode of the same Go-shaped map (not Go-exact: bin/str8 headers)
frame          FrameReader push + readByte + readValue (copies each value once into memory of its own)
decode         decodeRequest, hand-written schema decoder
dec+copy       decodeRequest plus a copy of every entry's Data (the per-field alternative)
lib decode     the same mapping over @msgpack/msgpack's Decoder (libraryDecoder), the rejected alternative
lib parse      @msgpack/msgpack Decoder.decode alone, before any mapping (a floor for the library route)
gain           decode / lib decode: why the decoder is hand-written
enc+frame+dec  writeRequest + take + push + readByte + readValue + decodeRequest`);
if (sink === -1) console.log(sink);
