import type { Writable } from 'node:stream';
import type { MessageWriter } from '../codec/encoder.ts';
import { copiesOnWrite } from './socket-memory.ts';

/**
 * Messages queued in one tick leave together, but no more than this many per
 * write: the peer then gets the first ones (a pipelining client frees window
 * slots, a server starts serving) while later ones are still being produced,
 * so both processes work at once instead of taking turns with whole batches.
 */
const FLUSH_EVERY = 16;
/** ...or once this many bytes wait: one huge write would hold the event loop in the kernel. */
const FLUSH_BYTES = 64 * 1024;

/** Optional hooks of a BatchWriter's owner, given once per connection (never per message). */
export interface BatchWriterHooks {
  /** Bytes handed to the socket by one write (for stats). */
  onWrite?: (bytes: number) => void;
  /** The end-of-tick flush ran (e.g. to re-check flow control). */
  onTickFlushed?: () => void;
}

/**
 * The one write path of a connection, client or server: messages are encoded
 * straight into the MessageWriter's slab, and what one tick produced goes out
 * in a single socket write (or every FLUSH_EVERY messages / FLUSH_BYTES). On a
 * net.Socket the slab region is released for reuse once written, so the steady
 * state allocates nothing per message; any other Duplex gets a copy per write.
 */
export class BatchWriter {
  /** Encode messages here, then call `queued()`. */
  readonly encoder: MessageWriter;
  private readonly socket: Writable;
  private readonly onWrite: ((bytes: number) => void) | undefined;
  private readonly onTickFlushed: (() => void) | undefined;
  /** Whether the socket is done with a written Buffer once write's callback runs (see `copiesOnWrite`). */
  private readonly recycle: boolean;
  private unflushed = 0;
  private scheduled = false;
  private stopped = false;

  constructor(socket: Writable, encoder: MessageWriter, hooks: BatchWriterHooks = {}) {
    this.socket = socket;
    this.encoder = encoder;
    this.onWrite = hooks.onWrite;
    this.onTickFlushed = hooks.onTickFlushed;
    this.recycle = copiesOnWrite(socket);
  }

  /** One more message was encoded: write it with the rest of this tick's, or now if the batch is full. */
  queued(): void {
    if (++this.unflushed >= FLUSH_EVERY || this.encoder.pending >= FLUSH_BYTES) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(tickFlush, this);
    }
  }

  /** Writes everything encoded so far in one write. */
  flush(): void {
    this.unflushed = 0;
    if (this.stopped || this.encoder.pending === 0) return;
    const out = this.encoder.take();
    this.onWrite?.(out.length);
    if (this.recycle) {
      // The socket copied the bytes by the time the callback runs: the encoder may reuse that memory.
      this.socket.write(out, this.encoder.releaser());
    } else {
      // Any other Duplex may hand the very Buffer it is given to the reader
      // (an in-process pair does): give it a copy of its own and reuse the
      // slab at once. bench/codec-ab.ts: cheaper than abandoning slabs to the
      // GC (heartbeats at 0.6-0.7x of the reused-slab rate, against 0.3x).
      const copy = Buffer.from(out);
      this.encoder.releaser()();
      this.socket.write(copy);
    }
  }

  /** No more writes: the connection is gone. What is still encoded is dropped. */
  stop(): void {
    this.stopped = true;
  }

  /** The end of the tick in which messages were queued. */
  tick(): void {
    this.scheduled = false;
    this.flush();
    if (!this.stopped) this.onTickFlushed?.();
  }
}

function tickFlush(w: BatchWriter): void {
  w.tick();
}
