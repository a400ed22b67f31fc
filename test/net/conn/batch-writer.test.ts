/** The one write path both connection sides share: what leaves in which socket write. */
import * as net from 'node:net';
import { Duplex, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RpcType } from '../../../src/commands.ts';
import { MessageWriter } from '../../../src/net/codec/encoder.ts';
import { BatchWriter } from '../../../src/net/conn/batch-writer.ts';
import { appendReq, entry, voteReq } from '../../helpers/fixtures.ts';
import { startRawServer } from '../../helpers/raw-server.ts';

function sink(): { socket: Writable; writes: Buffer[] } {
  const writes: Buffer[] = [];
  const socket = new Writable({
    write(chunk: Buffer, _enc, cb) {
      writes.push(Buffer.from(chunk)); // copy: the slab is reused once cb runs
      cb();
    },
  });
  return { socket, writes };
}

const tick = () => new Promise<void>((r) => process.nextTick(r));

describe('BatchWriter', () => {
  it("writes a tick's messages in one write, at the end of the tick", async () => {
    const { socket, writes } = sink();
    let ticks = 0;
    let bytes = 0;
    const w = new BatchWriter(socket, new MessageWriter(), {
      onWrite: (n) => (bytes += n),
      onTickFlushed: () => ticks++,
    });
    const one = new MessageWriter();
    one.writeRequest(RpcType.RequestVote, voteReq());
    const size = one.pending;
    for (let i = 0; i < 3; i++) {
      w.encoder.writeRequest(RpcType.RequestVote, voteReq());
      w.queued();
    }
    expect(writes).toHaveLength(0);
    await tick();
    expect(writes.map((b) => b.length)).toEqual([3 * size]);
    expect(bytes).toBe(3 * size);
    expect(ticks).toBe(1);
  });

  it('writes every 16 messages without waiting for the tick', () => {
    const { socket, writes } = sink();
    const w = new BatchWriter(socket, new MessageWriter());
    for (let i = 0; i < 33; i++) {
      w.encoder.writeRequest(RpcType.RequestVote, voteReq());
      w.queued();
    }
    expect(writes).toHaveLength(2);
  });

  it('writes at once when 64 KiB are waiting', () => {
    const { socket, writes } = sink();
    const w = new BatchWriter(socket, new MessageWriter());
    w.encoder.writeRequest(RpcType.AppendEntries, appendReq({ entries: [entry(1, new Uint8Array(64 * 1024))] }));
    w.queued();
    expect(writes).toHaveLength(1);
  });

  it('reuses its memory once written, and writes each byte exactly once', async () => {
    const { socket, writes } = sink();
    const w = new BatchWriter(socket, new MessageWriter());
    const expected: Buffer[] = [];
    for (let round = 0; round < 50; round++) {
      const req = voteReq({ term: round });
      const ref = new MessageWriter();
      ref.writeRequest(RpcType.RequestVote, req);
      expected.push(Buffer.from(ref.take()));
      w.encoder.writeRequest(RpcType.RequestVote, req);
      w.queued();
      await tick();
    }
    expect(Buffer.concat(writes).equals(Buffer.concat(expected))).toBe(true);
  });

  it('never overwrites a Buffer it gave a non-socket Duplex, which may pass it on by reference (issue 9, defect 2)', async () => {
    const kept: Buffer[] = [];
    const socket = new Writable({
      write(chunk: Buffer, _enc, cb) {
        kept.push(chunk); // by reference, as an in-process StreamLayer hands it to its reader
        cb();
      },
    });
    const w = new BatchWriter(socket, new MessageWriter());
    const expected: Buffer[] = [];
    // ~1.2 MiB in all: several slabs' worth, so a reused slab would overwrite earlier writes.
    for (let round = 0; round < 600; round++) {
      const req = appendReq({ term: round, entries: [entry(round, new Uint8Array(2048).fill(round & 0xff))] });
      const ref = new MessageWriter();
      ref.writeRequest(RpcType.AppendEntries, req);
      expected.push(Buffer.from(ref.take()));
      w.encoder.writeRequest(RpcType.AppendEntries, req);
      w.queued();
      await tick();
    }
    expect(Buffer.concat(kept).equals(Buffer.concat(expected))).toBe(true);
  });

  /** Streams that keep every written Buffer by reference, as one handing it to an in-process reader does. */
  const keepers: Array<[string, (kept: Buffer[]) => Duplex]> = [
    [
      'a Duplex',
      (kept) =>
        new Duplex({
          read() {},
          write(chunk: Buffer, _enc, cb) {
            kept.push(chunk);
            cb();
          },
        }),
    ],
    [
      'a subclass of net.Socket',
      (kept) => {
        class KeepingSocket extends net.Socket {
          override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
            kept.push(chunk);
            cb();
          }
          override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
            for (const c of chunks) kept.push(c.chunk);
            cb();
          }
        }
        return new KeepingSocket();
      },
    ],
  ];

  it.each(keepers)('never overwrites a Buffer it wrote to %s that keeps it, however many writes follow', async (_name, make) => {
    const kept: Buffer[] = [];
    const socket = make(kept);
    const w = new BatchWriter(socket, new MessageWriter());
    /** What each kept Buffer held when it was written. */
    const atWrite: Buffer[] = [];
    // ~1.2 MiB in all: several slabs' worth, so a recycled slab would overwrite earlier writes.
    for (let round = 0; round < 600; round++) {
      const req = appendReq({ term: round, entries: [entry(round, new Uint8Array(2048).fill(round))] });
      w.encoder.writeRequest(RpcType.AppendEntries, req);
      w.queued();
      await tick();
      for (let i = atWrite.length; i < kept.length; i++) atWrite.push(Buffer.from(kept[i]!));
    }
    expect(kept.length).toBe(600);
    let overwritten = 0;
    for (let i = 0; i < kept.length; i++) if (!kept[i]!.equals(atWrite[i]!)) overwritten++;
    expect(overwritten).toBe(0);
    socket.destroy();
  });

  it('over TCP, writes slab memory directly and reuses it once the socket is done with it', async () => {
    let accept!: (s: net.Socket) => void;
    const accepted = new Promise<net.Socket>((resolve) => (accept = resolve));
    const server = await startRawServer((s) => accept(s));
    const [host, port] = server.addr.split(':') as [string, string];
    const client = net.connect(Number(port), host);
    const peer = await accepted;
    const received: Buffer[] = [];
    peer.on('data', (d: Buffer) => received.push(d));
    const ended = new Promise<void>((resolve) => peer.once('end', () => resolve()));
    await new Promise<void>((resolve) => (client.connecting ? client.once('connect', () => resolve()) : resolve()));
    // Watch the writes without changing what the socket is (its prototype stays net.Socket's).
    const writes: Buffer[] = [];
    let written: () => void = () => {};
    const write = client.write.bind(client) as (chunk: Buffer, cb: (err?: Error | null) => void) => boolean;
    client.write = ((chunk: Buffer, cb?: (err?: Error | null) => void) => {
      writes.push(chunk);
      return write(chunk, (err) => {
        cb?.(err);
        written();
      });
    }) as typeof client.write;

    const w = new BatchWriter(client, new MessageWriter());
    const expected: Buffer[] = [];
    // 64 x 32 KiB: several slabs' worth, each written once the previous write completed.
    for (let round = 0; round < 64; round++) {
      const req = appendReq({ term: round, entries: [entry(round, new Uint8Array(32 * 1024).fill(round))] });
      const ref = new MessageWriter();
      ref.writeRequest(RpcType.AppendEntries, req);
      expected.push(Buffer.from(ref.take()));
      const done = new Promise<void>((resolve) => (written = resolve));
      w.encoder.writeRequest(RpcType.AppendEntries, req);
      w.queued();
      await done;
    }
    client.end();
    await ended;

    expect(writes).toHaveLength(64);
    // Reused: some memory carried more bytes of writes than it holds.
    const bytesVia = new Map<ArrayBufferLike, number>();
    for (const b of writes) bytesVia.set(b.buffer, (bytesVia.get(b.buffer) ?? 0) + b.length);
    const reused = [...bytesVia].filter(([buffer, bytes]) => bytes > buffer.byteLength);
    expect(reused.length).toBeGreaterThan(0);
    // And every byte arrived as encoded.
    expect(Buffer.concat(received).equals(Buffer.concat(expected))).toBe(true);
    client.destroy();
    await server.close();
  });

  it('writes nothing after stop()', async () => {
    const { socket, writes } = sink();
    let ticks = 0;
    const w = new BatchWriter(socket, new MessageWriter(), { onTickFlushed: () => ticks++ });
    w.encoder.writeRequest(RpcType.RequestVote, voteReq());
    w.queued();
    w.stop();
    w.flush();
    await tick();
    expect(writes).toHaveLength(0);
    expect(ticks).toBe(0);
  });
});
