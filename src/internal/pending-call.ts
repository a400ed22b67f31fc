import { RpcAbortedError, RpcTimeoutError } from '../errors.ts';

/** Watches a PendingCall end; an interface so owners can be observers without a closure per call. */
export interface CallObserver<T> {
  settled(value: T | undefined, err: Error | undefined): void;
  /** Names the call in its timeout error; asked only when the timeout fires, so no message is built per call. */
  timeoutMessage?(): string;
}

/** Node's timers hold at most 2^31-1 ms; longer deadlines are chained in steps of this size. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A promise that is bounded by a timeout and an AbortSignal and whose cleanup
 * (timer, abort listener) always runs exactly once, whichever way it settles.
 *
 * Allocation-conscious: the timer callback and abort listener are the object
 * itself (`handleEvent`), so a call costs one object, one promise and one timer.
 */
export class PendingCall<T> {
  readonly promise: Promise<T>;
  settled = false;
  /** Names the stage for the timeout message (unless the observer names it); owners update it as the call progresses. */
  stage: string;
  private resolveFn!: (value: T) => void;
  private rejectFn!: (err: Error) => void;
  private timer: NodeJS.Timeout | undefined;
  private signal: AbortSignal | undefined;
  private timeoutMs = 0;
  /** Of a deadline longer than one Node timer can hold, what is left after the running timer. */
  private remainingMs = 0;
  /** Called once when the timeout or abort fires, before the rejection, so owners can unlink the call. */
  onCancel: ((err: Error) => void) | undefined;
  /** Told once how the call ended, whichever way (for stats and diagnostics). */
  observer: CallObserver<T> | undefined;

  constructor(stage = 'call timed out') {
    this.stage = stage;
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
  }

  /**
   * Starts the clock and watches the signal. A timeout of 0 or less (or
   * Infinity) means no timeout; one beyond Node's timer limit is honoured in
   * several steps. An already-aborted signal rejects at once.
   */
  arm(timeoutMs: number | undefined, signal?: AbortSignal): this {
    if (signal !== undefined) {
      if (signal.aborted) {
        this.cancel(new RpcAbortedError(signal.reason));
        return this;
      }
      this.signal = signal;
      signal.addEventListener('abort', this, { once: true });
    }
    if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      this.timeoutMs = timeoutMs;
      this.remainingMs = timeoutMs;
      this.startTimer();
    }
    return this;
  }

  resolve(value: T): boolean {
    if (this.settled) return false;
    this.finish();
    this.observer?.settled(value, undefined);
    this.resolveFn(value);
    return true;
  }

  reject(err: Error): boolean {
    if (this.settled) return false;
    this.finish();
    this.observer?.settled(undefined, err);
    this.rejectFn(err);
    return true;
  }

  /** EventListener protocol: the abort signal fired. */
  handleEvent(): void {
    this.cancel(new RpcAbortedError(this.signal?.reason));
  }

  /** Timer fired: either the next step of a long deadline, or the end. */
  expire(): void {
    this.timer = undefined;
    if (this.settled) return;
    if (this.remainingMs > 0) {
      this.startTimer();
      return;
    }
    const message = this.observer?.timeoutMessage?.() ?? this.stage;
    this.cancel(new RpcTimeoutError(message, this.timeoutMs));
  }

  private startTimer(): void {
    const step = this.remainingMs > MAX_TIMER_MS ? MAX_TIMER_MS : this.remainingMs;
    this.remainingMs -= step;
    this.timer = setTimeout(onTimer, step, this);
  }

  private cancel(err: Error): void {
    if (this.settled) return;
    this.onCancel?.(err);
    this.reject(err);
  }

  private finish(): void {
    this.settled = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.signal !== undefined) {
      this.signal.removeEventListener('abort', this);
      this.signal = undefined;
    }
  }
}

function onTimer(call: { expire(): void }): void {
  call.expire();
}
