import { RpcAbortedError, TransportShutdownError } from '../errors.ts';

/** How a cancellable wait ended without an item: its signal aborted, or its timeout passed. */
export type WaitCancelled = 'aborted' | 'timeout';

/**
 * A FIFO that producers push into synchronously and consumers drain with
 * `for await`. It is the shape of a Go channel that Transport.consumer() and
 * AppendPipeline.consumer() expose, without a promise per item when items
 * are already waiting.
 *
 * Items can be withdrawn lazily: `isLive` is asked at dequeue time, so a
 * cancelled RPC costs nothing to remove.
 *
 * A wait can also be cancelled (`wait`, `iterate`, `receive`): a cancelled
 * reader is unlinked synchronously when its signal or timer fires, so the next
 * item goes to the next reader and is never handed to one that gave up. This
 * is what a Go `select` over a channel and a timer needs.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private head = 0;
  private readers: Array<(result: IteratorResult<T>) => void> = [];
  private closedFlag = false;
  private readonly isLive: ((item: T) => boolean) | undefined;
  private readonly onTake: ((item: T) => void) | undefined;

  /**
   * @param isLive asked at dequeue time; items for which it returns false are dropped.
   * @param onTake told whenever an item reaches a reader, for owners that bound what is outstanding.
   */
  constructor(isLive?: (item: T) => boolean, onTake?: (item: T) => void) {
    this.isLive = isLive;
    this.onTake = onTake;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Items waiting to be read. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Enqueues `item`, handing it straight to a waiting reader if there is one. False once closed. */
  push(item: T): boolean {
    if (this.closedFlag) return false;
    const reader = this.readers.shift();
    if (reader !== undefined) {
      reader({ value: item, done: false });
      this.onTake?.(item);
    } else {
      this.items.push(item);
    }
    return true;
  }

  /** Takes the next live item without waiting, or undefined. */
  shift(): T | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head] as T;
      (this.items as Array<T | undefined>)[this.head] = undefined;
      this.head++;
      if (this.head === this.items.length) {
        this.items.length = 0;
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (this.isLive === undefined || this.isLive(item)) return item;
    }
    return undefined;
  }

  /** Resolves with the next item, waiting if none is queued; `done` once closed and drained. */
  next(): Promise<IteratorResult<T>> {
    const item = this.shift();
    if (item !== undefined) {
      this.onTake?.(item);
      return Promise.resolve({ value: item, done: false });
    }
    if (this.closedFlag) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.readers.push(resolve));
  }

  /**
   * Like `next()`, but gives up, without taking an item, once `signal` aborts
   * or `timeoutMs` passes (0 or undefined: no timeout). An already-aborted
   * signal takes nothing even when items are queued.
   */
  wait(signal?: AbortSignal, timeoutMs?: number): Promise<IteratorResult<T> | WaitCancelled> {
    if (signal?.aborted) return Promise.resolve('aborted');
    if (signal === undefined && (timeoutMs === undefined || timeoutMs <= 0)) return this.next();
    const item = this.shift();
    if (item !== undefined) {
      this.onTake?.(item);
      return Promise.resolve({ value: item, done: false });
    }
    if (this.closedFlag) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const reader = (result: IteratorResult<T>): void => {
        cleanup();
        resolve(result);
      };
      const cancel = (why: WaitCancelled): void => {
        const i = this.readers.indexOf(reader);
        if (i < 0) return; // already handed an item or closed
        this.readers.splice(i, 1);
        cleanup();
        resolve(why);
      };
      const onAbort = (): void => cancel('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs))
        timer = setTimeout(cancel, timeoutMs, 'timeout');
      this.readers.push(reader);
    });
  }

  /**
   * An iteration that ends (`done`) when `signal` aborts, even while a
   * `next()` is pending, without taking an item. Ending it leaves the queue open.
   */
  iterate(signal: AbortSignal | undefined): AsyncIterable<T> {
    if (signal === undefined) return this;
    return {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<T>> => {
          const r = await this.wait(signal);
          return typeof r === 'string' ? { value: undefined, done: true } : r;
        },
        return: () => Promise.resolve({ value: undefined, done: true }),
      }),
    };
  }

  /**
   * One item, for `select`-style loops: resolves with the next item, or
   * `undefined` once `timeoutMs` passes; rejects with `ERR_ABORTED` when
   * `signal` aborts and with `ERR_TRANSPORT_SHUTDOWN` once closed and drained.
   * In none of those cases is an item taken.
   */
  async receive(signal?: AbortSignal, timeoutMs?: number): Promise<T | undefined> {
    const r = await this.wait(signal, timeoutMs);
    if (r === 'timeout') return undefined;
    if (r === 'aborted') throw new RpcAbortedError(signal?.reason);
    if (r.done === true) throw new TransportShutdownError();
    return r.value;
  }

  /**
   * Stops accepting items and ends waiting readers. Queued items stay readable
   * unless `drain` is set, in which case they are removed and returned so the
   * owner can fail them.
   */
  close(drain = false): T[] {
    this.closedFlag = true;
    for (const reader of this.readers.splice(0)) reader({ value: undefined, done: true });
    if (!drain) return [];
    const rest: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) rest.push(item);
    return rest;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      // Leaving a for-await loop must not close a shared queue.
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }
}
