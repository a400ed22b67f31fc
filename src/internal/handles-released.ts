/**
 * Resolves once libuv has released every handle closed before the call.
 *
 * A socket's or server's 'close' event is emitted before libuv frees the
 * handle, which happens in the event loop's close phase; that phase has
 * certainly run once the check phase (setImmediate) comes round twice. Used
 * so that `close()` can promise that no socket or server is left behind.
 */
export function handlesReleased(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
