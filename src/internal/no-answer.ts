/**
 * What the caller is told when a consumer calls `respond(null)` with no
 * error: in every transport that is a failed call (ERR_REMOTE) with this
 * text, never a zero-valued response a Raft could mistake for a real answer.
 */
export const NO_ANSWER_MESSAGE = 'the peer answered with neither a response nor an error';

/** The error text `respond(response, error)` sends: '' when it is an answer. */
export function answerError(response: unknown, error: Error | string | null | undefined): string {
  if (error != null) {
    const text = typeof error === 'string' ? error : error.message || String(error);
    if (text !== '') return text;
  }
  return response == null ? NO_ANSWER_MESSAGE : '';
}

/**
 * What the caller is told when the heartbeat handler throws, in every
 * transport: the exception stays local (it is logged), since its text may
 * carry internals a remote peer has no business reading.
 */
export const HEARTBEAT_HANDLER_FAILED = 'heartbeat handler failed';
