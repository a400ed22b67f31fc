/**
 * A/B benchmark of the wire codec against another checkout, interleaved so
 * both sides see the same machine load:
 *
 *   git worktree add --detach /tmp/codec-base main   # plus a node_modules link
 *   npx tsx bench/codec-ab.ts /tmp/codec-base
 *
 * For each operation it alternates short rounds of the base (A) and this
 * checkout (B) and reports each side's median ops/s and the median of the
 * per-round ratios B/A, which is far steadier than two separate runs on a
 * shared machine. Operations:
 * - encode: writeRequest + take with the slab reused (A: on every socket;
 *   B: on a net.Socket), and for B the two ways to serve other Duplexes:
 *   never reusing slabs, or copying each write out and reusing (BatchWriter's
 *   choice);
 * - frame: FrameReader push + readByte + readValue (B copies each value once);
 * - decode: decodeRequest;
 * - round trip: encode + frame + decode, B on a net.Socket and on another Duplex.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RpcType, type AppendEntriesRequest, type Log } from '../src/commands.ts';
import { PreciseDate } from '../src/net/codec/go-time.ts';

interface Writer {
  writeRequest(type: RpcType, req: AppendEntriesRequest): void;
  take(): Uint8Array;
  releaser(): () => void;
}
interface Reader {
  push(c: Uint8Array): void;
  readByte(): number;
  readValue(): Uint8Array | undefined;
}
interface Codec {
  MessageWriter: new () => Writer;
  FrameReader: new () => Reader;
  decodeRequest(type: RpcType, b: Uint8Array): unknown;
}

async function load(root: string): Promise<Codec> {
  const at = (f: string): string => pathToFileURL(path.resolve(root, 'src/net/codec', f)).href;
  const [enc, fr, dec] = await Promise.all([import(at('encoder.ts')), import(at('frame-reader.ts')), import(at('decoder.ts'))]);
  return { MessageWriter: enc.MessageWriter, FrameReader: fr.FrameReader, decodeRequest: dec.decodeRequest };
}

const base = process.argv[2];
if (base === undefined) {
  console.error('usage: npx tsx bench/codec-ab.ts <path of the base checkout>');
  process.exit(2);
}
const A = await load(base);
const B = await load(path.resolve(import.meta.dirname, '..'));

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const header = { protocolVersion: 3, id: text('node-1'), addr: text('127.0.0.1:7000') };
function append(count: number, size: number): AppendEntriesRequest {
  const at = PreciseDate.fromISOString('2026-11-21T10:30:00.123456789Z');
  const es: Log[] = Array.from({ length: count }, (_, i) => ({
    index: 1000 + i,
    term: 7,
    type: 0,
    data: Buffer.alloc(size, i),
    extensions: null,
    appendedAt: at,
  }));
  return {
    rpcHeader: header,
    term: 7,
    leader: header.addr,
    prevLogEntry: count ? 999 : 0,
    prevLogTerm: count ? 7 : 0,
    entries: count ? es : null,
    leaderCommitIndex: count ? 998 : 0,
  };
}

let sink = 0;
function rate(fn: () => void, ms: number): number {
  let ops = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms * 1e6);
  let now = start;
  while (now < end) {
    for (let i = 0; i < 20; i++) fn();
    ops += 20;
    now = process.hrtime.bigint();
  }
  return (ops * 1e9) / Number(now - start);
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[s.length >> 1]!;
};

/** Interleaved rounds of a and b: medians of each and of the per-round ratio b/a. */
function ab(a: () => void, b: () => void, rounds = 9, ms = 80): [number, number, number] {
  rate(a, ms);
  rate(b, ms);
  const ra: number[] = [];
  const rb: number[] = [];
  const ratio: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const x = rate(a, ms);
    const y = rate(b, ms);
    ra.push(x);
    rb.push(y);
    ratio.push(y / x);
  }
  return [median(ra), median(rb), median(ratio)];
}

/** How B's encoder hands bytes to a socket: reuse (net.Socket), never reuse, or copy out and reuse. */
type Mode = 'reuse' | 'abandon' | 'copy';

function ops(c: Codec, req: AppendEntriesRequest, mode: Mode) {
  const reuse = mode !== 'abandon';
  const w = new c.MessageWriter();
  const r = new c.FrameReader();
  w.writeRequest(RpcType.AppendEntries, req);
  const wire = w.take();
  const body = wire.subarray(1);
  return {
    encode: (): void => {
      w.writeRequest(RpcType.AppendEntries, req);
      let out = w.take();
      if (mode === 'copy') out = Buffer.from(out);
      sink += out.length;
      if (reuse) w.releaser()();
    },
    frame: (): void => {
      r.push(wire);
      r.readByte();
      sink += r.readValue()!.length;
    },
    decode: (): void => {
      sink += (c.decodeRequest(RpcType.AppendEntries, body) as AppendEntriesRequest).term;
    },
    roundTrip: (): void => {
      w.writeRequest(RpcType.AppendEntries, req);
      const out = w.take();
      r.push(mode === 'copy' ? Buffer.from(out) : out);
      if (reuse) w.releaser()();
      const t = r.readByte() as RpcType;
      sink += (c.decodeRequest(t, r.readValue()!) as AppendEntriesRequest).term;
    },
  };
}

const fmt = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`);
const cases: Array<[string, AppendEntriesRequest]> = [
  ['heartbeat', append(0, 0)],
  ['1×128 B', append(1, 128)],
  ['64×1 KiB', append(64, 1024)],
];
console.log(`A = ${base}, B = this checkout; ops/s medians of interleaved rounds, node ${process.version}`);
console.log('| message | operation | A | B | B/A |');
console.log('|---|---|---:|---:|---:|');
for (const [name, req] of cases) {
  const a = ops(A, req, 'reuse');
  const bSocket = ops(B, req, 'reuse');
  const bOther = ops(B, req, 'abandon');
  const bCopy = ops(B, req, 'copy');
  const rows: Array<[string, () => void, () => void]> = [
    ['encode, slab reused (B: net.Socket)', a.encode, bSocket.encode],
    ['encode, B never reuses (other Duplex)', a.encode, bOther.encode],
    ['encode, B copies out and reuses', a.encode, bCopy.encode],
    ['frame', a.frame, bSocket.frame],
    ['decode', a.decode, bSocket.decode],
    ['enc+frame+dec, B on net.Socket', a.roundTrip, bSocket.roundTrip],
    ['enc+frame+dec, B on other Duplex (copy out)', a.roundTrip, bCopy.roundTrip],
  ];
  for (const [op, fa, fb] of rows) {
    const [x, y, q] = ab(fa, fb);
    console.log(`| ${name} | ${op} | ${fmt(x)} | ${fmt(y)} | ${q.toFixed(2)} |`);
  }
}
if (sink === -1) console.log(sink);
