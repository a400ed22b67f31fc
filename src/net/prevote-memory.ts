/**
 * Which peers recently showed they lack RequestPreVote (hashicorp/raft before
 * 1.7 closes the connection on RPC type 4), so a Raft asking again in the
 * next election fails fast instead of dialing and waiting for the close.
 * Bounded (oldest forgotten first) and expiring, so a peer upgraded in a
 * rolling restart is tried again.
 */
export class PreVoteMemory {
  /** Peer address → when the entry expires (ms, `now()` clock: monotonic by default). Insertion order = age. */
  private readonly lacking = new Map<string, number>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly maxPeers = 1024,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** True while `addr` is remembered as lacking pre-vote. */
  lacks(addr: string): boolean {
    const expiry = this.lacking.get(addr);
    if (expiry === undefined) return false;
    if (this.now() < expiry) return true;
    this.lacking.delete(addr);
    return false;
  }

  /** Records that `addr` refused a pre-vote just now. */
  remember(addr: string): void {
    this.lacking.delete(addr);
    this.lacking.set(addr, this.now() + this.ttlMs);
    while (this.lacking.size > this.maxPeers) {
      const oldest = this.lacking.keys().next().value;
      if (oldest === undefined) break;
      this.lacking.delete(oldest);
    }
  }

  /** Forgets `addr` (it answered a pre-vote, so it supports it now). */
  forget(addr: string): void {
    this.lacking.delete(addr);
  }

  get size(): number {
    return this.lacking.size;
  }
}
