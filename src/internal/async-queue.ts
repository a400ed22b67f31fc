/**
 * A FIFO that producers push into synchronously and consumers drain with
 * `for await`. It is the shape of a Go channel that Transport.consumer() and
 * AppendPipeline.consumer() expose, without a promise per item when items
 * are already waiting.
 *
 * Items can be withdrawn lazily: `isLive` is asked at dequeue time, so a
 * cancelled RPC costs nothing to remove.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private head = 0;
  private readers: Array<(result: IteratorResult<T>) => void> = [];
  private closedFlag = false;
  private readonly isLive: ((item: T) => boolean) | undefined;
  private readonly onTake: (() => void) | undefined;

  /**
   * @param isLive asked at dequeue time; items for which it returns false are dropped.
   * @param onTake told whenever an item reaches a reader, for owners that bound what is outstanding.
   */
  constructor(isLive?: (item: T) => boolean, onTake?: () => void) {
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
      this.onTake?.();
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
      this.onTake?.();
      return Promise.resolve({ value: item, done: false });
    }
    if (this.closedFlag) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.readers.push(resolve));
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
