/**
 * What the benchmark server does with each AppendEntries, standing in for a
 * Raft follower's work: the responder rules of the Go interop peer
 * (test/interop/go-peer.ts), so the Go server does the same work per request
 * and ours-vs-Go is a fair comparison. `success` holds only if the CRC-32 of
 * every entry byte matches the one the client put in leaderCommitIndex, so a
 * corrupted payload shows up as a failed run rather than a fast one.
 *
 * This is a leaner copy of expectedAppendResponse: one scratch buffer per
 * entry header instead of three allocations, so the server's own bookkeeping
 * doesn't dominate the small-request numbers.
 */
import { crc32 } from 'node:zlib';
import type { AppendEntriesRequest, AppendEntriesResponse, Log } from '../src/commands.ts';

/** CRC-32 (IEEE, reflected) byte table, for the 17 header bytes of each entry. */
const TABLE = ((): Int32Array => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** Folds the four big-endian bytes of `v` into the (pre-inverted) CRC register `c`. */
function foldU32(c: number, v: number): number {
  c = TABLE[(c ^ (v >>> 24)) & 0xff]! ^ (c >>> 8);
  c = TABLE[(c ^ (v >>> 16)) & 0xff]! ^ (c >>> 8);
  c = TABLE[(c ^ (v >>> 8)) & 0xff]! ^ (c >>> 8);
  return TABLE[(c ^ v) & 0xff]! ^ (c >>> 8);
}

/**
 * CRC-32 over index(8 BE) | term(8 BE) | type(1) | data | extensions of each
 * entry. The 17 header bytes are folded in JS: a zlib.crc32 call costs about
 * 100 ns however short its input, more than the table loop, and Go's server
 * pays no such toll. The data still goes through zlib (about 3 GB/s; Go's
 * hash/crc32 does a 64×1 KiB request's CRC in about 6 µs, zlib here in 25).
 */
export function entriesCrc(entries: readonly Log[] | null): number {
  let c = 0;
  for (const e of entries ?? []) {
    let r = ~c;
    r = foldU32(r, Math.floor(e.index / 2 ** 32));
    r = foldU32(r, e.index >>> 0);
    r = foldU32(r, Math.floor(e.term / 2 ** 32));
    r = foldU32(r, e.term >>> 0);
    r = TABLE[(r ^ e.type) & 0xff]! ^ (r >>> 8);
    c = ~r >>> 0;
    if (e.data) c = crc32(e.data, c);
    if (e.extensions) c = crc32(e.extensions, c);
  }
  return c;
}

/** The answer by the responder rules; `fastPath` sets noRetryBackoff so the client can tell the heartbeat handler answered. */
export function answerAppend(req: AppendEntriesRequest, fastPath: boolean): AppendEntriesResponse {
  return {
    rpcHeader: { protocolVersion: req.rpcHeader.protocolVersion },
    term: req.term,
    lastLog: req.prevLogEntry + (req.entries?.length ?? 0),
    success: entriesCrc(req.entries) === req.leaderCommitIndex,
    noRetryBackoff: fastPath,
  };
}

/** Throws unless `resp` is the rule-following answer to `req` (via the heartbeat handler iff `fastPath`). */
export function checkAppend(req: AppendEntriesRequest, resp: AppendEntriesResponse, fastPath: boolean): void {
  const lastLog = req.prevLogEntry + (req.entries?.length ?? 0);
  if (resp.term !== req.term || resp.lastLog !== lastLog || !resp.success || resp.noRetryBackoff !== fastPath) {
    throw new Error(
      `unexpected AppendEntries response ${JSON.stringify(resp)}: want term ${req.term}, lastLog ${lastLog}, success, ` +
        (fastPath ? 'answered by the heartbeat handler' : 'answered by the consumer'),
    );
  }
}
