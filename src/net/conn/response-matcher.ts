import type { AnyResponse, RpcType, ServerAddress } from '../../commands.ts';
import { ProtocolError, TransportError } from '../../errors.ts';
import { decodeErrorString, decodeResponse } from '../codec/decoder.ts';
import { FrameReader, type FrameReaderOptions } from '../codec/frame-reader.ts';
import type { DecodeLimits } from '../codec/wire-format.ts';

/**
 * Whoever waits for a response on a connection. An interface (not a
 * callback) so the pipeline can register itself once per request without
 * allocating a closure each time.
 */
export interface ResponseWaiter {
  readonly responseType: RpcType;
  /** The response arrived; `remoteError` is '' when the peer reported none. */
  onResponse(response: AnyResponse, remoteError: string): void;
  /** The connection failed before this response arrived. */
  onConnectionError(err: Error): void;
}

/**
 * The request state of a client connection, apart from its socket: the
 * queue of waiters in request order, and the decoding of response bytes into
 * answers for them. hashicorp's protocol has no request ids, so order is the
 * only correlation: each response (an error string, then the response map)
 * belongs to the oldest waiter.
 */
export class ResponseMatcher {
  private readonly target: ServerAddress;
  private readonly limits: DecodeLimits;
  private readonly reader: FrameReader;
  private waiters: ResponseWaiter[] = [];
  private head = 0;
  /** The error string of the response being read, once it arrived ahead of its map. */
  private remoteError: string | undefined;
  /** Set by failAll: the connection is gone, nothing more is matched. */
  private failed = false;

  constructor(target: ServerAddress, limits: DecodeLimits, readerOptions?: FrameReaderOptions) {
    this.target = target;
    this.limits = limits;
    this.reader = new FrameReader(limits, readerOptions);
  }

  /** Responses still expected. */
  get outstanding(): number {
    return this.waiters.length - this.head;
  }

  /** Queues the waiter of a request just sent. */
  expect(waiter: ResponseWaiter): void {
    this.waiters.push(waiter);
  }

  /**
   * Feeds received bytes and answers every waiter whose response is now
   * complete. Throws a TransportError on bytes that are not a valid answer
   * (the connection must then fail). Stops as soon as a waiter's callback
   * broke the connection.
   */
  push(chunk: Buffer): void {
    if (this.failed) return;
    this.reader.push(chunk);
    try {
      while (this.head < this.waiters.length) {
        if (this.remoteError === undefined) {
          const bytes = this.reader.readValue();
          if (bytes === undefined) return;
          this.remoteError = decodeErrorString(bytes);
        }
        const waiter = this.waiters[this.head] as ResponseWaiter;
        const bytes = this.reader.readValue(); // responses are small: pieces would only add copies
        if (bytes === undefined) return;
        const response = decodeResponse(waiter.responseType, bytes, this.limits);
        const remoteError = this.remoteError;
        this.remoteError = undefined;
        (this.waiters as Array<ResponseWaiter | undefined>)[this.head] = undefined;
        this.head++;
        if (this.head === this.waiters.length) {
          this.waiters.length = 0;
          this.head = 0;
        }
        waiter.onResponse(response, remoteError);
        if (this.failed) return;
      }
      if (this.reader.buffered > 0) throw new ProtocolError(`unexpected bytes from ${this.target} with no request outstanding`);
    } catch (err) {
      throw err instanceof TransportError
        ? err
        : new ProtocolError(`failed to decode response from ${this.target}: ${String(err)}`, { cause: err });
    }
  }

  /** Fails every waiter still queued with `err`, oldest first, and forgets them. */
  failAll(err: Error): void {
    this.failed = true;
    const waiters = this.waiters;
    const head = this.head;
    this.waiters = [];
    this.head = 0;
    for (let i = head; i < waiters.length; i++) waiters[i]?.onConnectionError(err);
  }
}
