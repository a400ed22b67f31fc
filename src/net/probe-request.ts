import type { AppendEntriesRequest } from '../commands.ts';

/**
 * The request of every health probe (the `probe` command's and the
 * transport's prober): an AppendEntries with term 0, no leader and no
 * entries. hashicorp/raft answers it with its term and last log index and
 * rejects it before touching any state (`a.Term < currentTerm`), since every
 * node that can take part in an election is at term 1 or more (bootstrapping
 * writes term 1). Only a node never bootstrapped nor joined, still at term 0,
 * accepts it as an empty append, which changes nothing it keeps either. The
 * header carries no `id`/`addr` (a transport's `localID` is not filled in), so
 * no node can take the prober for a leader.
 */
export function probeRequest(): AppendEntriesRequest {
  return {
    // Version 3 is within every hashicorp/raft release's accepted range (0..3).
    rpcHeader: { protocolVersion: 3, id: null, addr: null },
    term: 0,
    leader: null,
    prevLogEntry: 0,
    prevLogTerm: 0,
    entries: null,
    leaderCommitIndex: 0,
  };
}
