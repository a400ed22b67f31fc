import type { ServerAddress } from '../../commands.ts';
import { PeerUnreachableError, RpcAbortedError } from '../../errors.ts';

/** How hard to retry a peer whose dials fail. */
export interface DialBackoffOptions {
  /** First pause after a failed dial, in ms (default 20). */
  baseMs?: number;
  /** Longest pause, in ms (default 2000, about two Raft heartbeat intervals). */
  maxMs?: number;
}

/**
 * Peers whose failures are remembered at most. A forgotten peer only loses
 * its pause (its next dial goes out at once), so the least recently failed
 * are dropped first and the map cannot grow with cluster churn.
 */
export const BACKOFF_PEERS_KEPT = 256;

interface PeerState {
  failures: number;
  /** `performance.now()` before which no new dial is attempted. */
  nextAttempt: number;
}

/**
 * Exponential backoff with jitter per peer, after etcd's client: after
 * a failed dial, further dials to that peer wait for a growing, randomised
 * pause, so a dead peer isn't hammered by every heartbeat and retry, and
 * peers coming back aren't hit by synchronised reconnect storms. A success
 * resets the peer.
 *
 * Callers wait out the pause within their own deadline; when the pause would
 * outlast it they fail at once with ERR_PEER_UNREACHABLE instead of timing out.
 * Times are `performance.now()`, immune to wall-clock steps.
 */
export class DialBackoff {
  private readonly peers = new Map<ServerAddress, PeerState>();
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(opts: DialBackoffOptions = {}, random: () => number = Math.random) {
    this.baseMs = opts.baseMs ?? 20;
    this.maxMs = opts.maxMs ?? 2_000;
    this.random = random;
  }

  /** Ms to wait before dialing `addr` now (0 when it may be dialed at once). */
  delay(addr: ServerAddress): number {
    const s = this.peers.get(addr);
    if (s === undefined) return 0;
    const ms = s.nextAttempt - performance.now();
    if (ms > 0) return ms;
    return 0;
  }

  /**
   * Resolves when `addr` may be dialed. Rejects with ERR_PEER_UNREACHABLE when
   * the pause ends after `deadline` (a `performance.now()` time), or ERR_ABORTED on `signal`.
   */
  wait(addr: ServerAddress, deadline: number, signal?: AbortSignal): Promise<void> | undefined {
    const ms = this.delay(addr);
    if (ms === 0) return undefined;
    const s = this.peers.get(addr) as PeerState;
    if (performance.now() + ms > deadline) {
      return Promise.reject(
        new PeerUnreachableError(
          `peer ${addr} is unreachable (${s.failures} failed dial${s.failures === 1 ? '' : 's'}); next attempt in ${Math.ceil(ms)} ms`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new RpcAbortedError(signal?.reason));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.ceil(ms));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  failed(addr: ServerAddress): void {
    const s = this.peers.get(addr) ?? { failures: 0, nextAttempt: 0 };
    s.failures++;
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(s.failures - 1, 30));
    // "Equal jitter": at least half the cap, so a dead peer is never hammered,
    // and a random rest, so reconnecting clients spread out.
    s.nextAttempt = performance.now() + Math.round(cap / 2 + (cap / 2) * this.random());
    // Re-inserted so the map's order is least recently failed first.
    this.peers.delete(addr);
    this.peers.set(addr, s);
    if (this.peers.size > BACKOFF_PEERS_KEPT) {
      const oldest = this.peers.keys().next().value as ServerAddress;
      this.peers.delete(oldest);
    }
  }

  /** Peers with a remembered failure. */
  get size(): number {
    return this.peers.size;
  }

  succeeded(addr: ServerAddress): void {
    this.peers.delete(addr);
  }
}
