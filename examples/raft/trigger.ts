/**
 * A wake-up signal between async loops, like a Go `chan struct{}` of
 * capacity 1: `notify()` wakes the waiter, or the next `wait()` if none is
 * waiting. Every wait ends: on notify, on its timeout, or when its signal aborts.
 */
export class Trigger {
  private pending = false;
  private waiter: (() => void) | undefined;

  notify(): void {
    const w = this.waiter;
    if (w) w();
    else this.pending = true;
  }

  /** Resolves `true` when notified, `false` on timeout or abort. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(true);
    }
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (notified: boolean): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (this.waiter === onNotify) this.waiter = undefined;
        resolve(notified);
      };
      const onNotify = (): void => done(true);
      const onAbort = (): void => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = onNotify;
    });
  }
}

/** Sleeps `ms`, or less if `signal` aborts; never rejects. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
