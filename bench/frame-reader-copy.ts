/**
 * What FrameReader's views of a net.Socket's chunks save over copying them
 * (`freshChunks`, see src/net/conn/socket-memory.ts), in one process:
 *
 *   npx tsx bench/frame-reader-copy.ts
 *
 * Each case pushes pre-built 64 KiB-or-smaller chunks, as a socket delivers
 * them, and reads them out the way a connection does; rounds alternate copy
 * and view so both see the same machine, and the medians are reported.
 * - snapshot: readRaw over 64 KiB chunks of snapshot data (always a view);
 * - 40 KiB value: one AppendEntries-sized value per chunk (a view: it fills
 *   more than half its chunk);
 * - 64 B value: one small response per chunk, as a sync caller gets them;
 * - 66 KiB value over two chunks: read with readValue(), which copies it
 *   either way (the control, which should not move), and with
 *   readValueParts(), which hands out the pieces;
 * - 64×1 KiB AppendEntries: the benchmark's ring of distinct requests as
 *   one stream cut into 64 KiB chunks, each request read and decoded the way
 *   a server connection does, with readValue() (one copy of every request
 *   that spans chunks) and with readValueParts() (decoded where it lies).
 */
import { RpcType, type AppendEntriesRequest } from '../src/commands.ts';
import { decodeRequest } from '../src/net/codec/decoder.ts';
import { FrameReader, valueLength } from '../src/net/codec/frame-reader.ts';
import { encodeFrame } from './raw-client.ts';
import { generate, workloads } from './workloads.ts';

const ROUNDS = 9;

/** A msgpack bin32 of `n` bytes, as one contiguous value. */
function bin(n: number): Buffer {
  const b = Buffer.alloc(5 + n, 7);
  b[0] = 0xc6;
  b.writeUInt32BE(n, 1);
  return b;
}

/** Fresh chunks, as a socket would deliver them (each with its own ArrayBuffer). */
function chunksOf(value: Buffer, chunkSize: number, count: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    for (let off = 0; off < value.length; off += chunkSize) {
      const c = Buffer.allocUnsafeSlow(Math.min(chunkSize, value.length - off));
      value.copy(c, 0, off, off + c.length);
      out.push(c);
    }
  }
  return out;
}

interface Case {
  name: string;
  bytesPerOp: number;
  run(fresh: boolean): number; // ops done
}

const snapshotChunks = chunksOf(Buffer.alloc(64 * 1024, 3), 64 * 1024, 2048); // 128 MiB
const big = chunksOf(bin(40 * 1024), 64 * 1024, 2048);
const small = chunksOf(bin(59), 64 * 1024, 200_000);
const frame = chunksOf(bin(66 * 1024), 64 * 1024, 1024);
const kib = generate(workloads().find((w) => w.id === '64x1k')!);
const stream = chunksOf(Buffer.concat(kib.ring.map(encodeFrame)), 64 * 1024, 1);

let sink = 0;
const cases: Case[] = [
  {
    name: 'snapshot, 64 KiB chunks (readRaw)',
    bytesPerOp: 64 * 1024,
    run(fresh) {
      const r = new FrameReader(undefined, { freshChunks: fresh });
      for (const c of snapshotChunks) {
        r.push(c);
        sink += r.readRaw(c.length)!.length;
      }
      return snapshotChunks.length;
    },
  },
  ...(
    [
      ['40 KiB value in one chunk', big, 40 * 1024, false],
      ['64 B value per chunk', small, 64, false],
      ['66 KiB value over two chunks (control)', frame, 66 * 1024, false],
      ['66 KiB value over two chunks, in parts', frame, 66 * 1024, true],
    ] as const
  ).map(
    ([name, chunks, bytesPerOp, parts]): Case => ({
      name,
      bytesPerOp,
      run(fresh) {
        const r = new FrameReader(undefined, { freshChunks: fresh });
        const read = parts ? () => r.readValueParts() : () => r.readValue();
        let n = 0;
        for (const c of chunks) {
          r.push(c);
          for (let v = read(); v !== undefined; v = read()) {
            sink += valueLength(v);
            n++;
          }
        }
        return n;
      },
    }),
  ),
  ...([false, true] as const).map(
    (parts): Case => ({
      name: `64×1 KiB AppendEntries, ${parts ? 'in parts' : 'whole'} + decode`,
      bytesPerOp: kib.payloadBytes,
      run(fresh) {
        const r = new FrameReader(undefined, { freshChunks: fresh });
        let n = 0;
        let typed = false; // the type byte of the request being read is consumed
        for (const c of stream) {
          r.push(c);
          for (;;) {
            if (!typed && r.readByte() < 0) break;
            typed = true;
            const v = parts ? r.readValueParts() : r.readValue();
            if (v === undefined) break;
            typed = false;
            sink += (decodeRequest(RpcType.AppendEntries, v) as AppendEntriesRequest).entries!.length;
            n++;
          }
        }
        return n;
      },
    }),
  ),
];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`FrameReader: copy vs view of fresh socket chunks, median of ${ROUNDS} interleaved rounds (Node ${process.version})`);
console.log('case                                     copy ns/op   view ns/op   view/copy time');
for (const c of cases) {
  c.run(false);
  c.run(true); // warm both paths
  const copy: number[] = [];
  const view: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const fresh of [false, true]) {
      const t0 = performance.now();
      const n = c.run(fresh);
      (fresh ? view : copy).push(((performance.now() - t0) * 1e6) / n);
    }
  }
  const a = median(copy);
  const b = median(view);
  console.log(
    `${c.name.padEnd(40)} ${a.toFixed(0).padStart(10)}   ${b.toFixed(0).padStart(10)}   ${(b / a).toFixed(2).padStart(8)}×`,
  );
}
if (sink === 0) console.log('(nothing read)');
