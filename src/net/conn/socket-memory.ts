import { Socket } from 'node:net';
import type { Duplex, Writable } from 'node:stream';
import { TLSSocket } from 'node:tls';

/**
 * What a stream does with the memory it is given and gives out: whether the
 * write path may reuse a written Buffer, and whether the read path may keep
 * views of received chunks instead of copying them. Only Node's own sockets
 * promise either; any other Duplex (an in-process pair, a test double, a
 * user's wrapper) is treated as passing Buffers by reference.
 *
 * "Node's own" means exactly: an object whose prototype is
 * `net.Socket.prototype` or `tls.TLSSocket.prototype`. A subclass may
 * override `push`, `_read`, `write` or `_write` and pass Buffers by reference
 * or reuse them, so it is treated like any other Duplex.
 */

/** The socket is a net.Socket or a tls.TLSSocket itself, not a subclass of either. */
function isNodeSocket(socket: Duplex | Writable): boolean {
  const proto: unknown = Object.getPrototypeOf(socket);
  return proto === Socket.prototype || proto === TLSSocket.prototype;
}

/**
 * True for a net.Socket or tls.TLSSocket (not a subclass): by the time write's
 * callback runs, libuv handed the bytes to the kernel (or OpenSSL encrypted
 * them into its own buffer), so the written Buffer may be overwritten. No
 * other Duplex promises that: a PassThrough-style pair gives the reader the
 * writer's Buffer itself, so those get a copy (bench/codec-ab.ts).
 */
export function copiesOnWrite(socket: Writable): boolean {
  return isNodeSocket(socket);
}

/**
 * True for a net.Socket or tls.TLSSocket (not a subclass): each 'data'
 * chunk is a Buffer over an ArrayBuffer of its own, allocated for that one
 * read and trimmed to it, which Node never writes again (checked for TCP and TLS; see
 * test/net/conn/socket-memory.test.ts). Views into such chunks stay valid for
 * as long as anyone holds them, so the reader need not copy what it hands out.
 * Bytes put back with `unshift` come from whoever put them back, so the
 * handoff layer copies those.
 */
export function freshReadChunks(socket: Duplex): boolean {
  return isNodeSocket(socket);
}
