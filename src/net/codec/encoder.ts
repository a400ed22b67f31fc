/**
 * Writes hashicorp/raft messages byte-for-byte as Go's go-msgpack does.
 *
 * Hand-written rather than built on @msgpack/msgpack because Go sends `[]byte`
 * as the old-spec raw string (a0-bf, da, db) — never str8 (d9) nor bin
 * (c4-c6), which that library always picks for bytes — and because this is the
 * transport's hot path: each message is written straight into a slab with no
 * intermediate objects.
 *
 * Structs are maps whose keys are the Go field names in byte order, with the
 * embedded RPCHeader's fields (Addr, ID, ProtocolVersion) at the top level.
 * Their writers are generated from src/net/codec/schema.ts into
 * gen/encode-structs.ts (`npm run codegen`); this file holds the slab and the
 * per-type dispatch.
 */
import {
  RpcType,
  type AnyRequest,
  type AnyResponse,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type InstallSnapshotRequest,
  type InstallSnapshotResponse,
  type RPCHeader,
  type RequestPreVoteRequest,
  type RequestPreVoteResponse,
  type RequestVoteRequest,
  type RequestVoteResponse,
  type TimeoutNowRequest,
  type TimeoutNowResponse,
} from '../../commands.ts';
import { InvalidValueError } from '../../errors.ts';
import {
  putAppendEntriesRequest,
  putAppendEntriesResponse,
  putInstallSnapshotRequest,
  putInstallSnapshotResponse,
  putRequestPreVoteRequest,
  putRequestPreVoteResponse,
  putRequestVoteRequest,
  putRequestVoteResponse,
  putTimeoutNowRequest,
  putTimeoutNowResponse,
  sizeAppendEntriesRequest,
  sizeAppendEntriesResponse,
  sizeInstallSnapshotRequest,
  sizeInstallSnapshotResponse,
  sizeRequestPreVoteRequest,
  sizeRequestPreVoteResponse,
  sizeRequestVoteRequest,
  sizeRequestVoteResponse,
  sizeTimeoutNowRequest,
  sizeTimeoutNowResponse,
} from './gen/encode-structs.ts';
import { describe, putRawHeader } from './msgpack-write.ts';
import type { WireFormat } from './wire-format.ts';

/** Default slab size: holds a few hundred small messages, or a few 64 KiB batches, so allocation is rare. */
const SLAB_SIZE = 256 * 1024;
/** Released slabs kept for reuse per writer. */
const SPARE_SLABS = 4;

/**
 * A slab and how many of its taken regions are still out. Once the writer
 * has moved past it and every region came back (`release`), its memory is
 * reused instead of left to the garbage collector: at hundreds of MB/s,
 * fresh buffers would make V8 run full collections every few dozen
 * milliseconds, stalling the event loop (and heartbeats) for milliseconds.
 */
class Slab {
  readonly buf: Buffer;
  out = 0;
  retired = false;
  /** Bound once per slab, so handing it to socket.write allocates nothing. */
  readonly release: () => void;

  constructor(buf: Buffer, spares: Slab[]) {
    this.buf = buf;
    this.release = () => {
      if (--this.out === 0 && this.retired) recycle(this, spares);
    };
  }
}

function recycle(slab: Slab, spares: Slab[]): void {
  if (slab.buf.length !== SLAB_SIZE || spares.length >= SPARE_SLABS) return;
  slab.retired = false;
  spares.push(slab);
}
const ZERO_HEADER: RPCHeader = Object.freeze({ protocolVersion: 0, id: null, addr: null });

/** Go's zero value of each response, sent when a handler answers with only an error. */
const ZERO_RESPONSES: { readonly [T in RpcType]: AnyResponse } = {
  [RpcType.AppendEntries]: { rpcHeader: ZERO_HEADER, term: 0, lastLog: 0, success: false, noRetryBackoff: false },
  [RpcType.RequestVote]: { rpcHeader: ZERO_HEADER, term: 0, peers: null, granted: false },
  [RpcType.InstallSnapshot]: { rpcHeader: ZERO_HEADER, term: 0, success: false },
  [RpcType.TimeoutNow]: { rpcHeader: ZERO_HEADER },
  [RpcType.RequestPreVote]: { rpcHeader: ZERO_HEADER, term: 0, granted: false },
};

function unknownType(type: number): InvalidValueError {
  return new InvalidValueError(`unknown RPC type ${String(type)}`);
}

/**
 * Batches encoded messages into one buffer per flush. Messages are appended
 * to a slab and handed out with take(); a slab region is never written again
 * once taken, so callers may pass it to `socket.write` without copying, and
 * many messages coalesce into a single write.
 */
export class MessageWriter {
  readonly #latest: boolean;
  readonly #msgpackTime: boolean;
  readonly #spares: Slab[] = [];
  #current: Slab = new Slab(Buffer.alloc(0), this.#spares);
  #slab: Buffer = this.#current.buf;
  #start = 0;
  #pos = 0;

  constructor(format?: WireFormat) {
    const fields = format?.fields ?? 'latest';
    const timeFormat = format?.timeFormat ?? 'binary';
    if (fields !== 'latest' && fields !== 'v1.1') throw new RangeError(`unknown WireFormat.fields: ${String(fields)}`);
    if (timeFormat !== 'binary' && timeFormat !== 'msgpack') {
      throw new RangeError(`unknown WireFormat.timeFormat: ${String(timeFormat)}`);
    }
    this.#latest = fields === 'latest';
    this.#msgpackTime = timeFormat === 'msgpack';
  }

  /** Bytes appended since the last take(). */
  get pending(): number {
    return this.#pos - this.#start;
  }

  /**
   * Returns the pending bytes as one Buffer and starts a new batch. The
   * returned Buffer is a subarray of an internal slab that is not written
   * again until its region is released (slab pattern, like Node's Buffer
   * pool), so it is safe to hand to socket.write without copying. Never
   * released, it is never written again.
   */
  take(): Buffer {
    const out = this.#slab.subarray(this.#start, this.#pos);
    this.#start = this.#pos;
    this.#current.out++;
    return out;
  }

  /**
   * The release function of the slab the last take() came from: call it once
   * nobody reads that Buffer any more, and the slab can be reused. Only a
   * socket that copies on write (net.Socket: see BatchWriter) is done with it
   * when write's callback runs; an in-process Duplex may have handed the very
   * Buffer to its reader. Regions never released just keep their slab out of
   * reuse, so forgetting is safe.
   */
  releaser(): () => void {
    return this.#current.release;
  }

  /** Appends type byte + request map. */
  writeRequest(type: RpcType, req: AnyRequest): void {
    const latest = this.#latest;
    let b: Buffer;
    let p: number;
    switch (type) {
      case RpcType.AppendEntries: {
        const r = req as AppendEntriesRequest;
        b = this.#reserve(1 + sizeAppendEntriesRequest(r, latest));
        p = this.#pos;
        b[p] = type;
        p = putAppendEntriesRequest(b, p + 1, r, latest, this.#msgpackTime);
        break;
      }
      case RpcType.RequestVote: {
        const r = req as RequestVoteRequest;
        b = this.#reserve(1 + sizeRequestVoteRequest(r, latest));
        p = this.#pos;
        b[p] = type;
        p = putRequestVoteRequest(b, p + 1, r, latest);
        break;
      }
      case RpcType.InstallSnapshot: {
        const r = req as InstallSnapshotRequest;
        b = this.#reserve(1 + sizeInstallSnapshotRequest(r, latest));
        p = this.#pos;
        b[p] = type;
        p = putInstallSnapshotRequest(b, p + 1, r, latest);
        break;
      }
      case RpcType.TimeoutNow: {
        const r = req as TimeoutNowRequest;
        b = this.#reserve(1 + sizeTimeoutNowRequest(r, latest));
        p = this.#pos;
        b[p] = type;
        p = putTimeoutNowRequest(b, p + 1, r, latest);
        break;
      }
      case RpcType.RequestPreVote: {
        const r = req as RequestPreVoteRequest;
        b = this.#reserve(1 + sizeRequestPreVoteRequest(r, latest));
        p = this.#pos;
        b[p] = type;
        p = putRequestPreVoteRequest(b, p + 1, r, latest);
        break;
      }
      default:
        throw unknownType(type);
    }
    // Only now does the message become pending: a throw above leaves #pos untouched.
    this.#pos = p;
  }

  /**
   * Appends error string (a0 when none; UTF-8 as raw str) + response map. A
   * null response with an error writes the zero-valued response map of that
   * type (Go clients decode it fine).
   */
  writeResponse(type: RpcType, resp: AnyResponse | null, error?: string): void {
    const latest = this.#latest;
    const r = resp ?? ZERO_RESPONSES[type];
    if (r === undefined) throw unknownType(type);
    let errBytes = 0;
    if (error !== undefined && error !== '') {
      if (typeof error !== 'string') throw new InvalidValueError(`response error: expected a string, got ${describe(error)}`);
      errBytes = Buffer.byteLength(error, 'utf8');
    }
    let size: number;
    switch (type) {
      case RpcType.AppendEntries:
        size = sizeAppendEntriesResponse(r as AppendEntriesResponse, latest);
        break;
      case RpcType.RequestVote:
        size = sizeRequestVoteResponse(r as RequestVoteResponse, latest);
        break;
      case RpcType.InstallSnapshot:
        size = sizeInstallSnapshotResponse(r as InstallSnapshotResponse, latest);
        break;
      case RpcType.TimeoutNow:
        size = sizeTimeoutNowResponse(r as TimeoutNowResponse, latest);
        break;
      case RpcType.RequestPreVote:
        size = sizeRequestPreVoteResponse(r as RequestPreVoteResponse, latest);
        break;
      default:
        throw unknownType(type);
    }
    const b = this.#reserve(5 + errBytes + size);
    let p = putRawHeader(b, this.#pos, errBytes);
    if (errBytes > 0) p += b.write(error!, p, errBytes, 'utf8');
    switch (type) {
      case RpcType.AppendEntries:
        p = putAppendEntriesResponse(b, p, r as AppendEntriesResponse, latest);
        break;
      case RpcType.RequestVote:
        p = putRequestVoteResponse(b, p, r as RequestVoteResponse, latest);
        break;
      case RpcType.InstallSnapshot:
        p = putInstallSnapshotResponse(b, p, r as InstallSnapshotResponse, latest);
        break;
      case RpcType.TimeoutNow:
        p = putTimeoutNowResponse(b, p, r as TimeoutNowResponse, latest);
        break;
      default:
        p = putRequestPreVoteResponse(b, p, r as RequestPreVoteResponse, latest);
    }
    this.#pos = p;
  }

  /**
   * Makes room for `need` more bytes and returns the slab to write into at
   * #pos. Pending (untaken) bytes move to the new slab; taken ones stay where
   * they are, untouched.
   */
  #reserve(need: number): Buffer {
    const slab = this.#slab;
    if (slab.length - this.#pos >= need) return slab;
    const pending = this.#pos - this.#start;
    const size = Math.max(SLAB_SIZE, pending * 2 + need);
    const spare = size === SLAB_SIZE ? this.#spares.pop() : undefined;
    const next = spare ?? new Slab(Buffer.allocUnsafeSlow(size), this.#spares);
    if (pending > 0) slab.copy(next.buf, 0, this.#start, this.#pos);
    const old = this.#current;
    old.retired = true;
    if (old.out === 0) recycle(old, this.#spares);
    this.#current = next;
    this.#slab = next.buf;
    this.#start = 0;
    this.#pos = pending;
    return next.buf;
  }
}
