/** Requests one connection serves per event-loop turn before letting others run. */
const TURN_REQUESTS = 64;
/** ...and request bytes. */
const TURN_BYTES = 256 * 1024;
/** A connection idle this long (ms) gets a fresh budget. */
const REFILL_AFTER_IDLE_MS = 0.5;

/**
 * Fairness between inbound connections. Answers come back in microtasks, so
 * a connection with a deep backlog could serve it all without the event loop
 * ever turning, starving every other socket and timer (heartbeats included).
 * Each connection gets a budget per turn; once spent, the rest waits for the
 * next turn.
 */
export class ServeBudget {
  private requests = TURN_REQUESTS;
  private bytes = TURN_BYTES;
  private lastServed = 0;

  /**
   * Serving starts. A pause since this connection last served means other
   * work ran in between: a fresh budget. (Cheaper than tracking loop turns,
   * which would cost a setImmediate, and an extra poll, per request.)
   */
  begin(): void {
    const now = performance.now();
    if (now - this.lastServed > REFILL_AFTER_IDLE_MS) this.refill();
    this.lastServed = now;
  }

  /** This turn's budget is used up. */
  get spent(): boolean {
    return this.requests <= 0 || this.bytes <= 0;
  }

  /** One request of `bytes` bytes was served. */
  charge(bytes: number): void {
    this.requests--;
    this.bytes -= bytes;
  }

  /** A new turn of the event loop. */
  refill(): void {
    this.requests = TURN_REQUESTS;
    this.bytes = TURN_BYTES;
  }
}
