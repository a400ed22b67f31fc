/**
 * Issue 9, defect 2: over a StreamLayer that passes written Buffers by
 * reference (no copy), the leader's encoder reused its slab once a write
 * "completed" while the follower still held entry.data as views into it, so
 * stored entries silently took other entries' bytes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AppendEntriesRequest, Log } from '../../src/commands.ts';
import { LogType, RpcType } from '../../src/commands.ts';
import { NetworkTransport } from '../../src/net/network-transport.ts';
import type { RPC } from '../../src/transport.ts';
import { ByReferenceNetwork } from '../helpers/by-reference-stream-layer.ts';
import { observed } from '../helpers/expect-errors.ts';
import { enc, pipelineAll } from '../helpers/fixtures.ts';

const ENTRIES = 400;
const SIZE = 4096;

/** Entry i's bytes: distinct for every entry and every position. */
function payload(i: number): Uint8Array {
  const b = new Uint8Array(SIZE);
  let x = (i + 1) * 2_654_435_761;
  for (let k = 0; k < SIZE; k++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    b[k] = x & 0xff;
  }
  return b;
}

function request(index: number): AppendEntriesRequest {
  const e: Log = { index, term: 1, type: LogType.Command, data: payload(index), extensions: null, appendedAt: null };
  return {
    rpcHeader: { protocolVersion: 3, id: enc('leader'), addr: enc('leader-addr') },
    term: 1,
    leader: enc('leader-addr'),
    prevLogEntry: index - 1,
    prevLogTerm: 1,
    entries: [e],
    leaderCommitIndex: 0,
  };
}

describe('entries over a by-reference StreamLayer (issue 9, defect 2)', () => {
  const open: NetworkTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  it('every entry the follower stores still equals what the leader sent, via pipeline and sync calls', async () => {
    const net = new ByReferenceNetwork();
    const leader = new NetworkTransport(net.listen(), { timeout: 10_000 });
    const follower = new NetworkTransport(net.listen(), { timeout: 10_000 });
    open.push(leader, follower);

    // A follower that keeps entry.data, as an in-memory log store does.
    const stored = new Map<number, Uint8Array>();
    const serving = observed(
      (async () => {
        for await (const rpc of follower.consumer() as AsyncIterable<RPC>) {
          if (rpc.type !== RpcType.AppendEntries) continue;
          const c = rpc.command;
          for (const e of c.entries ?? []) if (e.data !== null) stored.set(e.index, e.data);
          rpc.respond({
            rpcHeader: { protocolVersion: 3, id: null, addr: null },
            term: c.term,
            lastLog: c.prevLogEntry + (c.entries?.length ?? 0),
            success: true,
            noRetryBackoff: false,
          });
        }
      })(),
    );

    const target = follower.localAddr();
    const half = ENTRIES / 2;
    const first = Array.from({ length: half }, (_, i) => request(i + 1));
    expect(await pipelineAll(leader, 'follower', target, first)).toBe(half);
    for (let i = half + 1; i <= ENTRIES; i++) await leader.appendEntries('follower', target, request(i));

    expect(stored.size).toBe(ENTRIES);
    let corrupt = 0;
    for (let i = 1; i <= ENTRIES; i++) {
      if (!Buffer.from(payload(i)).equals(stored.get(i)!)) corrupt++;
    }
    expect(corrupt).toBe(0);

    await Promise.all([leader.close(), follower.close()]);
    await serving;
  });
});
