/**
 * One connection's deadline for the peer to make progress: a request must
 * arrive whole within `ms` of its first byte, a snapshot must keep flowing,
 * and a closing connection must take its last answer. This cuts slowloris
 * peers (half a frame, then silence) without timing healthy idle
 * connections. `ms` 0 disables it.
 *
 * It is consulted on every read, so it is lazy: starting, moving and
 * stopping the deadline only record it (a clock read), and the one Node
 * timer, once armed, is left running. When it fires it re-arms for the
 * current deadline if there still is one and it lies ahead. So a
 * connection whose requests each arrive in several reads costs no timer
 * insert/remove per request, and a flowing snapshot no timer refresh per
 * chunk.
 */
export class StallTimer {
  private readonly ms: number;
  private readonly onStall: () => void;
  private timer: NodeJS.Timeout | undefined;
  /** `performance.now()` by which the peer must make progress; 0 while not waiting. */
  private deadline = 0;

  /** `onStall` is given once per connection, never per request. */
  constructor(ms: number, onStall: () => void) {
    this.ms = ms;
    this.onStall = onStall;
  }

  /**
   * Starts the deadline while `waiting` (and restarts it when `progress` says
   * the peer moved forward); drops it otherwise.
   */
  update(waiting: boolean, progress: boolean): void {
    if (!waiting || this.ms <= 0) {
      this.deadline = 0;
    } else if (this.deadline === 0 || progress) {
      this.deadline = performance.now() + this.ms;
      if (this.timer === undefined) this.timer = setTimeout(fire, this.ms, this);
    }
  }

  /** Drops the deadline and clears the timer (the connection is gone). */
  stop(): void {
    this.deadline = 0;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** The timer fired: the peer stalled if the deadline passed, else wait for what is left of it. */
  expired(): void {
    this.timer = undefined;
    if (this.deadline === 0) return;
    const left = this.deadline - performance.now();
    if (left > 0) {
      this.timer = setTimeout(fire, Math.ceil(left), this);
      return;
    }
    this.deadline = 0;
    this.onStall();
  }
}

function fire(t: StallTimer): void {
  t.expired();
}
