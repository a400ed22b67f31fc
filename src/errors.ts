/**
 * Errors raised by every transport in this package.
 *
 * Each class carries a stable `code` so callers can branch on the kind of
 * failure without parsing messages (the convention of Node core and undici).
 * Messages say what happened and, where it helps, what to do about it.
 */

/** Every stable error code this package raises. */
export const ErrorCode = {
  /** The local transport (or pipeline) was closed; the call cannot complete. */
  TransportShutdown: 'ERR_TRANSPORT_SHUTDOWN',
  /** An append pipeline was closed or broke; its pending futures fail with this. */
  PipelineShutdown: 'ERR_PIPELINE_SHUTDOWN',
  /** The call did not complete within its timeout. */
  RpcTimeout: 'ERR_RPC_TIMEOUT',
  /** The caller's AbortSignal fired. */
  Aborted: 'ERR_ABORTED',
  /** The remote peer answered with an error string. */
  Remote: 'ERR_REMOTE',
  /** No route to the peer: unknown, disconnected, or the dial failed. */
  PeerUnreachable: 'ERR_PEER_UNREACHABLE',
  /** The connection closed or broke while a call was using it. */
  ConnectionClosed: 'ERR_CONNECTION_CLOSED',
  /** Bytes from the network did not form a valid message. */
  Protocol: 'ERR_PROTOCOL',
  /** A message or field exceeded a configured limit. */
  LimitExceeded: 'ERR_LIMIT_EXCEEDED',
  /** A value cannot be represented on the wire or in JavaScript without loss. */
  InvalidValue: 'ERR_INVALID_VALUE',
  /** An RPC was answered more than once. */
  AlreadyResponded: 'ERR_ALREADY_RESPONDED',
  /** The transport does not offer the requested capability. */
  NotSupported: 'ERR_NOT_SUPPORTED',
  /** Reading the caller's snapshot data failed; `cause` holds the source's own error. */
  SnapshotSource: 'ERR_SNAPSHOT_SOURCE',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error this package raises; check `code`, not the class name. */
export class TransportError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return 'TransportError';
  }
}

/** The local transport or pipeline is closed, so no further work is accepted. */
export class TransportShutdownError extends TransportError {
  constructor(message = 'transport is shut down') {
    super(ErrorCode.TransportShutdown, message);
  }
}

/** The append pipeline was closed (by the caller, a disconnect, or a broken connection). */
export class PipelineShutdownError extends TransportError {
  constructor(message = 'append pipeline closed', options?: { cause?: unknown }) {
    super(ErrorCode.PipelineShutdown, message, options);
  }
}

/** A call ran past its deadline; the message says which stage (send, or wait for the answer). */
export class RpcTimeoutError extends TransportError {
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(ErrorCode.RpcTimeout, `${message} (after ${timeoutMs} ms)`, options);
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's AbortSignal fired; `cause` holds the signal's reason. */
export class RpcAbortedError extends TransportError {
  constructor(reason: unknown) {
    super(ErrorCode.Aborted, 'the operation was aborted', { cause: reason });
  }
}

/**
 * The peer handled the RPC and answered with an error (or with neither a
 * response nor an error). The peer stays usable; `remoteMessage` is its
 * text, verbatim.
 */
export class RemoteError extends TransportError {
  readonly remoteMessage: string;

  constructor(remoteMessage: string, options?: { cause?: unknown }) {
    super(ErrorCode.Remote, `remote peer returned an error: ${remoteMessage}`, options);
    this.remoteMessage = remoteMessage;
  }
}

/** The target could not be reached: unknown, disconnected, refused or shut down. */
export class PeerUnreachableError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.PeerUnreachable, message, options);
  }
}

/** The connection carrying a call closed or failed before the answer arrived. */
export class ConnectionClosedError extends TransportError {
  constructor(message = 'connection closed', options?: { cause?: unknown }) {
    super(ErrorCode.ConnectionClosed, message, options);
  }
}

/** Bytes received from the network are not a valid hashicorp/raft message. */
export class ProtocolError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Protocol, message, options);
  }
}

/** A configured limit (frame size, entries, snapshot size, connections) was exceeded. */
export class LimitExceededError extends TransportError {
  constructor(message: string) {
    super(ErrorCode.LimitExceeded, message);
  }
}

/** A value would be lost or corrupted in translation (e.g. an integer above 2^53 - 1). */
export class InvalidValueError extends TransportError {
  constructor(message: string) {
    super(ErrorCode.InvalidValue, message);
  }
}

/** `respond()` was called on an RPC that already has its answer. */
export class AlreadyRespondedError extends TransportError {
  constructor() {
    super(ErrorCode.AlreadyResponded, 'RPC already responded to; each RPC takes exactly one response');
  }
}

/** The transport lacks an optional capability (e.g. pipelining). */
export class NotSupportedError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.NotSupported, message, options);
  }
}

/**
 * The peer does not implement RequestPreVote: hashicorp/raft before 1.7
 * (1.1.2, 1.5.x) closes the connection on RPC type 4 without answering,
 * and did so twice, the second time on a fresh connection (one close could be
 * a restart). A Raft seeing this should fall back to a normal election for
 * that peer, counting it as granted as hashicorp 1.7 does. Code
 * ERR_NOT_SUPPORTED (it is a NotSupportedError); `remembered` says the call
 * failed fast because the same peer refused a pre-vote recently, without
 * sending anything.
 */
export class PreVoteNotSupportedError extends NotSupportedError {
  readonly peer: string;
  readonly remembered: boolean;
  constructor(peer: string, options?: { cause?: unknown; remembered?: boolean }) {
    super(
      `${peer} does not support RequestPreVote (it closed the connection without answering, as hashicorp/raft before 1.7 does)${
        options?.remembered ? '; remembered from an earlier attempt' : ''
      }`,
      options,
    );
    this.peer = peer;
    this.remembered = options?.remembered ?? false;
  }
}

/** The snapshot data given to installSnapshot failed while being read; `cause` holds its error. */
export class SnapshotSourceError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.SnapshotSource, message, options);
  }
}

/** True when `err` is one of ours and has the given code. */
export function isTransportError(err: unknown, code?: ErrorCode): err is TransportError {
  return err instanceof TransportError && (code === undefined || err.code === code);
}
