import type { AnyRequest, ServerAddress, ServerID } from '../commands.ts';

/** A transport's own ServerID and address as bytes, for requests that leave `rpcHeader.id`/`addr` out. */
export interface Identity {
  readonly id: Uint8Array;
  readonly addr: Uint8Array;
}

const textEncoder = new TextEncoder();

/** The identity of a transport configured with `localID`, or undefined without one. */
export function identityOf(localID: ServerID | undefined, addr: ServerAddress): Identity | undefined {
  if (localID === undefined) return undefined;
  return { id: textEncoder.encode(localID), addr: textEncoder.encode(addr) };
}

/**
 * `req` with `rpcHeader.id` and `rpcHeader.addr` filled from `identity` where
 * they are absent (`undefined`; an explicit `null` is kept). The caller's
 * object is never modified: a filled request is a shallow copy, so requests
 * that carry their own header cost nothing.
 */
export function withIdentity<R extends AnyRequest>(req: R, identity: Identity | undefined): R {
  if (identity === undefined) return req;
  const h = req?.rpcHeader;
  // A malformed header is the encoder's to refuse, with its own message.
  if (h === null || typeof h !== 'object' || (h.id !== undefined && h.addr !== undefined)) return req;
  return {
    ...req,
    rpcHeader: { ...h, id: h.id === undefined ? identity.id : h.id, addr: h.addr === undefined ? identity.addr : h.addr },
  };
}
