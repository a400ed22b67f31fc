/** The one write path both connection sides share: what leaves in which socket write. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RpcType } from '../../../src/commands.ts';
import { MessageWriter } from '../../../src/net/codec/encoder.ts';
import { BatchWriter } from '../../../src/net/conn/batch-writer.ts';
import { appendReq, entry, voteReq } from '../../helpers/fixtures.ts';

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
