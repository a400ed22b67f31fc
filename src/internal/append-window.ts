import type { AppendEntriesRequest, AppendEntriesResponse } from '../commands.ts';
import type { AppendFuture, CallOptions } from '../transport.ts';
import { AsyncQueue } from './async-queue.ts';
import { MAX_TIMER_MS, PendingCall } from './pending-call.ts';

/** One pipelined AppendEntries; settled once, by the response, an error, or the pipeline closing. */
export class AppendFutureImpl implements AppendFuture {
  /** `performance.now()` at send: the monotonic clock every deadline and latency uses. */
  readonly sentAt: number;
  /** `performance.now()` when the answer arrived (0 until then, and for futures failed by close or expiry). */
  answeredAt = 0;
  readonly request: AppendEntriesRequest;
  /** How long the peer may take to answer this, in ms; 0 means forever. */
  readonly timeoutMs: number;
  response: AppendEntriesResponse | undefined = undefined;
  error: Error | undefined = undefined;
  settled = false;
  private waiters: Array<PendingCall<AppendEntriesResponse>> | undefined;

  constructor(request: AppendEntriesRequest, timeoutMs: number) {
    this.request = request;
    this.sentAt = performance.now();
    this.timeoutMs = timeoutMs > 0 && Number.isFinite(timeoutMs) ? timeoutMs : 0;
  }

  /**
   * Send time for Raft, ms since the epoch on the monotonic clock (see AppendFuture.start); never used
   * for deadlines. Derived from `sentAt`, so a future costs one clock read.
   */
  get start(): number {
    return performance.timeOrigin + this.sentAt;
  }

  wait(): Promise<AppendEntriesResponse> {
    if (this.settled) {
      return this.error === undefined ? Promise.resolve(this.response as AppendEntriesResponse) : Promise.reject(this.error);
    }
    const call = new PendingCall<AppendEntriesResponse>();
    if (this.waiters === undefined) this.waiters = [call];
    else this.waiters.push(call);
    return call.promise;
  }

  settle(response: AppendEntriesResponse | undefined, error: Error | undefined): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.response = error === undefined ? response : undefined;
    this.error = error;
    const waiters = this.waiters;
    if (waiters !== undefined) {
      this.waiters = undefined;
      for (const w of waiters) {
        if (error === undefined) w.resolve(response as AppendEntriesResponse);
        else w.reject(error);
      }
    }
    return true;
  }
}

export interface AppendWindowOptions {
  /** Futures that may be sent but not yet answered-and-consumed. */
  maxInFlight: number;
  /** Told when the oldest unanswered future passes its deadline (see AppendWindow). */
  onExpire: (future: AppendFutureImpl) => void;
  /** Told after each future settles, however (for stats). */
  onSettled?: (future: AppendFutureImpl) => void;
}

/**
 * The part of an append pipeline that both transports share: the bounded
 * window of outstanding futures, their in-order delivery to the consumer,
 * deadlines, and settling everything on close.
 *
 * Deadlines, as Go's pipeline re-arms its read deadline per response: the
 * oldest unanswered future must be answered within its timeout of
 * max(its send time, the previous answer's arrival). A peer that answers
 * steadily but slowly (a stalled fsync) keeps a full window alive; one that
 * stops answering is caught. All times are `performance.now()`, so wall-clock
 * steps change nothing.
 *
 * Deadlines cost one clock read per answer and no timer work per request:
 * they only ever move later, so one timer is armed for the earliest possible
 * expiry and, when it fires, re-armed for whatever is left.
 */
export class AppendWindow {
  readonly done: AsyncQueue<AppendFuture>;
  private readonly opts: AppendWindowOptions;
  private inflight: AppendFutureImpl[] = [];
  private inflightHead = 0;
  private outstanding = 0;
  private slotWaiters: Array<PendingCall<void>> = [];
  private timer: NodeJS.Timeout | undefined;
  private closedError: Error | undefined;
  private senderError: Error | undefined;
  /** `performance.now()` when the last answer arrived. */
  private lastAnswerAt = 0;
  /** True while onExpire runs: what it settles is not an answer. */
  private expiring = false;

  constructor(opts: AppendWindowOptions) {
    this.opts = opts;
    this.done = new AsyncQueue<AppendFuture>(undefined, () => this.release());
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Futures sent and not yet answered. */
  get inFlight(): number {
    return this.inflight.length - this.inflightHead;
  }

  /**
   * Reserves a slot. Returns undefined when one was free, else a promise that
   * resolves when the consumer frees one (bounded by `opts`).
   */
  acquire(opts: CallOptions | undefined, defaultTimeoutMs: number): Promise<void> | undefined {
    if (this.senderError !== undefined) return Promise.reject(this.senderError);
    if (this.outstanding < this.opts.maxInFlight && this.slotWaiters.length === 0) {
      this.outstanding++;
      return undefined;
    }
    const call = new PendingCall<void>('timed out waiting for a free pipeline slot');
    call.onCancel = () => {
      const i = this.slotWaiters.indexOf(call);
      if (i >= 0) this.slotWaiters.splice(i, 1);
    };
    this.slotWaiters.push(call);
    call.arm(opts?.timeout ?? defaultTimeoutMs, opts?.signal);
    return call.promise;
  }

  /** Gives back a slot reserved with `acquire` whose request was never sent. */
  unreserve(): void {
    this.release();
  }

  /** Records a sent future; it is delivered once it and all before it settle. */
  add(future: AppendFutureImpl): void {
    this.inflight.push(future);
    if (this.timer === undefined) {
      const head = this.head() as AppendFutureImpl;
      if (head.timeoutMs > 0) this.armTimer(this.deadlineOf(head) - future.sentAt);
    }
  }

  /** When the head-of-line `future` times out: its timeout after it was sent or the previous answer came. */
  private deadlineOf(future: AppendFutureImpl): number {
    if (future.timeoutMs === 0) return Number.POSITIVE_INFINITY;
    return (future.sentAt > this.lastAnswerAt ? future.sentAt : this.lastAnswerAt) + future.timeoutMs;
  }

  private armTimer(ms: number): void {
    this.timer = setTimeout(onWindowTimer, Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(ms))), this);
  }

  /** The oldest unanswered future, which a strictly ordered connection answers next. */
  head(): AppendFutureImpl | undefined {
    return this.inflight[this.inflightHead];
  }

  /** Settles `future` and delivers every settled future at the head, in order. */
  settle(future: AppendFutureImpl, response: AppendEntriesResponse | undefined, error: Error | undefined): void {
    const settled = future.settle(response, error);
    // An answer (not an expiry) restarts the clock of the next in line; the
    // same clock read is the future's answer time, for latency stats.
    if (settled && !this.expiring) {
      this.lastAnswerAt = performance.now();
      future.answeredAt = this.lastAnswerAt;
    }
    this.flush();
    if (settled) this.opts.onSettled?.(future);
  }

  /**
   * Stops the window: every unanswered future fails with `error` and is still
   * delivered (in order) so the consumer sees it; waiting and later senders
   * fail with `senderError` (default: `error`).
   */
  close(error: Error, senderError: Error = error): void {
    if (this.closedError !== undefined) return;
    this.closedError = error;
    this.senderError = senderError;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const failed: AppendFutureImpl[] = [];
    for (let i = this.inflightHead; i < this.inflight.length; i++) {
      const f = this.inflight[i] as AppendFutureImpl;
      if (f.settle(undefined, error)) failed.push(f);
    }
    this.flush();
    for (const f of failed) this.opts.onSettled?.(f);
    this.done.close();
    for (const w of this.slotWaiters.splice(0)) w.reject(senderError);
  }

  /** Timer callback: expire overdue heads, then watch the next one. */
  checkDeadlines(): void {
    this.timer = undefined;
    if (this.closedError !== undefined) return;
    const now = performance.now();
    for (let f = this.head(); f !== undefined && this.deadlineOf(f) <= now; f = this.head()) {
      this.expiring = true;
      try {
        this.opts.onExpire(f);
      } finally {
        this.expiring = false;
      }
      if (this.closedError !== undefined) return;
      if (!f.settled) break; // the owner chose not to settle it; avoid spinning
    }
    const next = this.head();
    if (next !== undefined && next.timeoutMs > 0) this.armTimer(this.deadlineOf(next) - now);
  }

  private flush(): void {
    while (this.inflightHead < this.inflight.length) {
      const f = this.inflight[this.inflightHead] as AppendFutureImpl;
      if (!f.settled) break;
      (this.inflight as Array<AppendFutureImpl | undefined>)[this.inflightHead] = undefined;
      this.inflightHead++;
      if (!this.done.push(f)) this.outstanding--; // consumer queue closed: nobody will take it
    }
    if (this.inflightHead === this.inflight.length) {
      this.inflight.length = 0;
      this.inflightHead = 0;
    } else if (this.inflightHead >= 1024 && this.inflightHead * 2 >= this.inflight.length) {
      this.inflight = this.inflight.slice(this.inflightHead);
      this.inflightHead = 0;
    }
  }

  private release(): void {
    const waiter = this.slotWaiters.shift();
    if (waiter !== undefined) {
      waiter.resolve(); // the slot passes straight to the next sender
    } else {
      this.outstanding--;
    }
  }
}

function onWindowTimer(w: AppendWindow): void {
  w.checkDeadlines();
}
