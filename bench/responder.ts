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

const scratch = Buffer.alloc(17);

/** CRC-32 over index(8 BE) | term(8 BE) | type(1) | data | extensions of each entry. */
export function entriesCrc(entries: readonly Log[] | null): number {
  let c = 0;
  for (const e of entries ?? []) {
    scratch.writeUInt32BE(Math.floor(e.index / 2 ** 32), 0);
    scratch.writeUInt32BE(e.index >>> 0, 4);
    scratch.writeUInt32BE(Math.floor(e.term / 2 ** 32), 8);
    scratch.writeUInt32BE(e.term >>> 0, 12);
    scratch[16] = e.type;
    c = crc32(scratch, c);
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
