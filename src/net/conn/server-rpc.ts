import type { Readable } from 'node:stream';
import type { AnyRequest, AnyResponse, RpcType } from '../../commands.ts';
import { AlreadyRespondedError } from '../../errors.ts';
import { answerError } from '../../internal/no-answer.ts';
import type { ServerRpcTimings } from '../hashicorp-metrics.ts';

/** The connection an RPC arrived on, as the RPC sees it. */
export interface RpcOrigin {
  /** The connection's remote address, as the StreamLayer reports it. */
  readonly remote: string;
  /** False once the connection stopped serving: answers are dropped. */
  readonly serving: boolean;
  /** Writes the answer (`error` '' for a response) and moves on to the next request. */
  respond(rpc: ServerRPC, response: AnyResponse | null, error: string): void;
}

/**
 * An RPC that arrived on a connection. Answering it writes the response to
 * that connection and lets the connection read the next request.
 */
export class ServerRPC {
  readonly type: RpcType;
  readonly command: AnyRequest;
  reader: Readable | undefined;
  /** hashicorp's raft.net.* timings, while someone subscribes to them. */
  timings: ServerRpcTimings | undefined;
  private readonly origin: RpcOrigin;
  private responded = false;

  constructor(origin: RpcOrigin, type: RpcType, command: AnyRequest) {
    this.origin = origin;
    this.type = type;
    this.command = command;
  }

  /** The remote address of the connection it arrived on (read from the connection, nothing stored per RPC). */
  get remote(): string {
    return this.origin.remote;
  }

  /** False once answered or once the connection died: the consumer queue skips it. */
  get live(): boolean {
    return !this.responded && this.origin.serving;
  }

  /**
   * `respond(resp)` answers; `respond(x, err)` fails the call with err's
   * text; `respond(null)` fails it too (see NO_ANSWER_MESSAGE), as in memory.
   */
  respond(response: AnyResponse | null, error?: Error | string | null): void {
    if (!this.origin.serving) return;
    if (this.responded) throw new AlreadyRespondedError();
    this.responded = true;
    this.origin.respond(this, response, answerError(response, error));
    this.timings?.responded();
  }

  /** The consumer took it (or the heartbeat handler returned). */
  taken(): void {
    this.timings?.taken();
  }
}
