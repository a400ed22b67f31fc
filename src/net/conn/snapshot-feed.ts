import { Readable } from 'node:stream';
import { channels } from '../../diagnostics.ts';
import type { FrameReader } from '../codec/frame-reader.ts';

/** What a SnapshotFeed tells the connection it reads from. */
export interface SnapshotFeedOwner {
  /** The consumer asked for more: the socket may need resuming. */
  updateFlow(): void;
  /** Snapshot bytes received so far (only called when someone listens). */
  snapshotProgress(bytes: number, size: number): void;
}

const HIGH_WATER = 256 * 1024;

/** Swallows 'error' so an unread reader never crashes the process; readers still see the error. */
function ignore(): void {}

/**
 * Moves exactly `size` snapshot bytes from the connection's buffer into the
 * Readable the consumer reads (`rpc.reader`), pausing the socket when the
 * consumer lags.
 *
 * The reader always finishes: it ends after `size` bytes, or is destroyed
 * with an error when the connection dies, the transport closes or the RPC is
 * answered before the data was read. That error reaches whoever reads it
 * (`for await`, `pipeline`, an 'error' listener), but an 'error' nobody
 * listens to is never an uncaught exception: a consumer may hold an unread
 * reader while the transport closes.
 */
export class SnapshotFeed {
  readonly readable: Readable;
  private readonly size: number;
  private remaining: number;
  private wantMore = true;
  private readonly reader: FrameReader;
  private readonly owner: SnapshotFeedOwner;

  constructor(reader: FrameReader, size: number, owner: SnapshotFeedOwner) {
    this.reader = reader;
    this.owner = owner;
    this.size = size;
    this.remaining = size;
    this.readable = new Readable({
      highWaterMark: HIGH_WATER,
      read: () => {
        this.wantMore = true;
        this.feed();
        this.owner.updateFlow();
      },
    });
    this.readable.on('error', ignore);
    if (size === 0) this.readable.push(null);
  }

  /** Every declared byte has been taken from the connection. */
  get complete(): boolean {
    return this.remaining === 0;
  }

  /** True while the consumer has not asked for more. */
  get full(): boolean {
    return !this.wantMore && this.remaining > 0;
  }

  /** Moves buffered bytes to the reader, as far as the consumer wants them. */
  feed(): void {
    while (this.remaining > 0 && this.wantMore) {
      const chunk = this.reader.readRaw(this.remaining);
      if (chunk === undefined) return;
      this.remaining -= chunk.length;
      if (channels.snapshotProgress.hasSubscribers) this.owner.snapshotProgress(this.size - this.remaining, this.size);
      this.wantMore = this.readable.push(chunk);
      if (this.remaining === 0) this.readable.push(null);
    }
  }

  /** The rest of the data will never come: a reader still reading gets `err`. */
  fail(err: Error): void {
    if (this.remaining > 0) {
      this.remaining = 0;
      this.readable.destroy(err);
    }
  }
}
