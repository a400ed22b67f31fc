/**
 * One connection's deadline for the peer to make progress: a request must
 * arrive whole within `ms` of its first byte, a snapshot must keep flowing,
 * and a closing connection must take its last answer. This cuts slowloris
 * peers (half a frame, then silence) without timing healthy idle
 * connections. `ms` 0 disables it.
 */
export class StallTimer {
  private readonly ms: number;
  private readonly onStall: () => void;
  private timer: NodeJS.Timeout | undefined;

  /** `onStall` is given once per connection, never per request. */
  constructor(ms: number, onStall: () => void) {
    this.ms = ms;
    this.onStall = onStall;
  }

  /**
   * Arms the deadline while `waiting` (and restarts it when `progress` says
   * the peer moved forward); clears it otherwise.
   */
  update(waiting: boolean, progress: boolean): void {
    if (!waiting || this.ms <= 0) {
      this.stop();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(fire, this.ms, this);
    } else if (progress) {
      this.timer.refresh();
    }
  }

  stop(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** The deadline passed. */
  expired(): void {
    this.timer = undefined;
    this.onStall();
  }
}

function fire(t: StallTimer): void {
  t.expired();
}
