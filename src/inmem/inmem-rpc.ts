import type { Readable } from 'node:stream';
import type { AnyRequest, AnyResponse, AppendEntriesResponse, RpcType } from '../commands.ts';
import { AlreadyRespondedError, RemoteError } from '../errors.ts';
import type { AppendFutureImpl } from '../internal/append-window.ts';
import { answerError } from '../internal/no-answer.ts';
import type { PendingCall } from '../internal/pending-call.ts';
import type { InmemPipeline } from './inmem-pipeline.ts';

/** Where an in-memory RPC's answer goes: a plain call, or a pipeline future. */
export type InmemReply =
  | { kind: 'call'; call: PendingCall<AnyResponse> }
  | { kind: 'pipeline'; pipeline: InmemPipeline; future: AppendFutureImpl };

/** What an InmemRPC needs from the transports at either end. */
export interface InmemEndpoint {
  readonly closed: boolean;
  localAddr(): string;
  forget(rpc: InmemRPC): void;
}

/**
 * An RPC travelling between two InmemTransports. The caller's objects are
 * passed by reference both ways (no copies), as a consumer would get them
 * from a decoder.
 */
export class InmemRPC {
  readonly type: RpcType;
  readonly command: AnyRequest;
  readonly reader: Readable | undefined;
  readonly reply: InmemReply;
  readonly from: InmemEndpoint;
  readonly to: InmemEndpoint;
  /** Taken by the consumer (or the heartbeat handler). */
  picked = false;
  private responded = false;

  constructor(type: RpcType, command: AnyRequest, reply: InmemReply, from: InmemEndpoint, to: InmemEndpoint, reader?: Readable) {
    this.type = type;
    this.command = command;
    this.reply = reply;
    this.from = from;
    this.to = to;
    this.reader = reader;
  }

  /** Who sent it: the calling transport's address, as a network peer's would be its socket's. */
  get remote(): string {
    return this.from.localAddr();
  }

  /** False once the caller gave up (timeout, abort, shutdown): the consumer never sees it. */
  get live(): boolean {
    return this.reply.kind === 'call' ? !this.reply.call.settled : !this.reply.future.settled;
  }

  respond(response: AnyResponse | null, error?: Error | string | null): void {
    if (this.to.closed) return;
    if (this.responded) throw new AlreadyRespondedError();
    this.responded = true;
    // The same rules, and the same text, as over the network.
    const text = answerError(response, error);
    const err = text === '' ? undefined : new RemoteError(text, error instanceof Error ? { cause: error } : undefined);
    this.settle(response ?? undefined, err);
  }

  /** Settles the caller's side, whatever it is, and unlinks this RPC from both ends. */
  settle(response: AnyResponse | undefined, err: Error | undefined): void {
    this.from.forget(this);
    this.to.forget(this);
    const reply = this.reply;
    if (reply.kind === 'call') {
      if (err === undefined) reply.call.resolve(response as AnyResponse);
      else reply.call.reject(err);
    } else if (!reply.future.settled) {
      reply.pipeline.window.settle(reply.future, response as AppendEntriesResponse | undefined, err);
    }
  }
}
