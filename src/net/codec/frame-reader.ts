/**
 * Splits a TCP byte stream into msgpack values without trusting the peer.
 *
 * hashicorp/raft's stream has no length prefixes: a message ends where its
 * msgpack value ends. FrameReader finds that point with a resumable scanner
 * (its state survives across chunks, so a value trickling in byte by byte is
 * still scanned once), enforces the DecodeLimits the moment a header declares
 * a size (before any of those bytes are buffered), and returns each value's
 * bytes, contiguously (readValue) or as the pieces it arrived in
 * (readValueParts, for the decoder, which reads across them).
 *
 * What it returns never aliases memory someone may write again. By default
 * every value and raw read is copied into memory of its own: a pushed chunk
 * may be the writer's Buffer (an in-process StreamLayer passes it by
 * reference and the writer may reuse it). A reader built with `freshChunks`
 * (a net.Socket's chunks, which Node allocates per read and never reuses)
 * hands out views instead where that pins little: a value, or a piece of raw
 * (snapshot) bytes, that fills at least half of the memory behind its chunk.
 * A smaller one is still copied, so a few bytes a consumer keeps never pin a
 * whole 64 KiB read chunk. For a value in pieces the rule is taken over the
 * whole value (it fills at least half of the chunks it touches), so a value
 * pins at most twice its size; a field a consumer keeps from it may pin the
 * chunk it lies in. bench/frame-reader-copy.ts measures the saving.
 */
import { LimitExceededError, ProtocolError } from '../../errors.ts';
import { resolveDecodeLimits, type DecodeLimits } from './wire-format.ts';

/** Chunks shorter than this are copied into a staging slab rather than queued, bounding per-chunk overhead. */
const COALESCE_BELOW = 1024;
const STAGE_SIZE = 16 * 1024;
const EMPTY = new Uint8Array(0);

/** How a FrameReader may treat the chunks pushed into it. */
export interface FrameReaderOptions {
  /**
   * Every pushed chunk is memory nobody will write again (true of a
   * net.Socket's 'data' chunks; see conn/socket-memory.ts). Lets the reader
   * hand out views instead of copies. Default false: everything handed out
   * is a copy.
   */
  freshChunks?: boolean;
}

function hex(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}

// BYTE_INFO[b] > 0: the item starting with b is a scalar or fixstr of that
// many bytes in total. Otherwise one of these codes:
const FIXMAP = 0;
const FIXARRAY = -1;
const STR8 = -2; // also bin8
const STR16 = -3; // also bin16
const STR32 = -4; // also bin32
const ARRAY16 = -5;
const ARRAY32 = -6;
const MAP16 = -7;
const MAP32 = -8;
const NEVER_USED = -9;
const EXTENSION = -10;
/** Width of the length field, indexed by minus the code. */
const LENGTH_WIDTH = [0, 0, 1, 2, 4, 2, 4, 2, 4];

const BYTE_INFO = ((): Int8Array => {
  const t = new Int8Array(256);
  for (let b = 0; b < 0x80; b++) t[b] = 1; // positive fixint
  for (let b = 0x80; b < 0x90; b++) t[b] = FIXMAP;
  for (let b = 0x90; b < 0xa0; b++) t[b] = FIXARRAY;
  for (let b = 0xa0; b < 0xc0; b++) t[b] = 1 + (b & 0x1f); // fixstr
  for (let b = 0xe0; b < 0x100; b++) t[b] = 1; // negative fixint
  const set = (bytes: number[], v: number): void => {
    for (const b of bytes) t[b] = v;
  };
  set([0xc0, 0xc2, 0xc3], 1); // nil, false, true
  set([0xcc, 0xd0], 2);
  set([0xcd, 0xd1], 3);
  set([0xce, 0xd2, 0xca], 5);
  set([0xcf, 0xd3, 0xcb], 9);
  set([0xc4, 0xd9], STR8);
  set([0xc5, 0xda], STR16);
  set([0xc6, 0xdb], STR32);
  set([0xdc], ARRAY16);
  set([0xdd], ARRAY32);
  set([0xde], MAP16);
  set([0xdf], MAP32);
  set([0xc1], NEVER_USED);
  // Go's raft codec never writes extension types (fixext d4-d8, ext c7-c9).
  set([0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8], EXTENSION);
  return t;
})();

/**
 * Bytes [from, to) of `c` in memory nobody else writes: Buffer.allocUnsafe
 * takes small sizes from Node's shared pool, which is only ever appended to
 * (a kept field pins at most one 8 KiB pool block), and gives bigger ones
 * their own ArrayBuffer.
 */
function ownCopy(c: Uint8Array, from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe(to - from);
  out.set(c.subarray(from, to), 0);
  return out;
}

/** Bytes in a value from FrameReader.readValueParts(). */
export function valueLength(value: Uint8Array | readonly Uint8Array[]): number {
  if (value instanceof Uint8Array) return value.length;
  let n = 0;
  for (const p of value) n += p.length;
  return n;
}

/**
 * Incremental receiver: push() socket chunks in, take messages out with
 * readByte() (the RPC type), readValue() (one msgpack value) and readRaw()
 * (snapshot bytes), in whatever order the protocol dictates.
 */
export class FrameReader {
  readonly #maxFrameSize: number;
  readonly #maxEntries: number;
  readonly #maxDepth: number;
  readonly #freshChunks: boolean;

  /** Queued chunks; #chunks[#head] is the oldest unconsumed one, from byte #headOff. */
  #chunks: Uint8Array[] = [];
  #head = 0;
  #headOff = 0;
  #buffered = 0;

  /** Small chunks are appended to this slab; the queue's last entry may be a growing view of it. */
  #stage: Uint8Array = EMPTY;
  #stagePos = 0;
  /** Where the view of #stage that is the queue's last entry starts, or -1 if the last entry is not that view. */
  #stageViewStart = -1;

  // Resumable scan state for the value that starts at (#head, #headOff).
  #scanning = false;
  #scanIdx = 0;
  #scanOff = 0;
  /** Bytes of the value scanned so far. */
  #scanned = 0;
  /** Payload bytes still to pass over (string bodies, fixed-size scalars, length fields). */
  #skip = 0;
  /** Whether passing over #skip completes an item (false for a container's length field). */
  #skipEndsItem = false;
  /** Items still expected in each open container (a map of n pairs expects 2n); grows up to maxDepth. */
  readonly #stack: number[] = [];
  #depth = 0;

  constructor(limits?: Partial<DecodeLimits>, options: FrameReaderOptions = {}) {
    this.#freshChunks = options.freshChunks === true;
    const l = resolveDecodeLimits(limits);
    this.#maxFrameSize = l.maxFrameSize;
    this.#maxEntries = l.maxEntries;
    this.#maxDepth = l.maxDepth;
  }

  /** Bytes held and not yet consumed. */
  get buffered(): number {
    return this.#buffered;
  }

  /** True while readValue() has a partially scanned value (for idle/slowloris detection). */
  get midFrame(): boolean {
    return this.#scanning;
  }

  /**
   * Queues a chunk. Who may write its memory afterwards:
   *
   * - A chunk under 1 KiB is copied into the reader's own slab at once: the
   *   caller may reuse it as soon as push() returns.
   * - A larger chunk is queued by reference until every byte of it has been
   *   read (by readByte, readValue or readRaw), which may be after later
   *   chunks are pushed: the caller must not modify it meanwhile.
   * - Without `freshChunks`, everything the reader returns is a copy, so once
   *   its bytes are read the chunk is the caller's again.
   * - With `freshChunks`, readValue(), readValueParts() and readRaw() may
   *   return views of the chunk (see the file comment for when; otherwise
   *   they copy), and whoever takes them may keep them for ever: nobody may
   *   write the chunk's memory again.
   */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    this.#buffered += n;
    if (n >= COALESCE_BELOW) {
      this.#chunks.push(chunk);
      this.#stageViewStart = -1;
      return;
    }
    // Tiny chunks (a trickling peer) would each cost an object and pin its own
    // backing store; copy them into a slab that is only ever appended to, so
    // views handed out earlier stay valid.
    let stage = this.#stage;
    if (stage.length - this.#stagePos < n) {
      // A Buffer, so views of it are Buffers like a socket's chunks.
      stage = this.#stage = Buffer.allocUnsafeSlow(STAGE_SIZE);
      this.#stagePos = 0;
      this.#stageViewStart = -1;
    }
    const at = this.#stagePos;
    stage.set(chunk, at);
    this.#stagePos = at + n;
    const chunks = this.#chunks;
    if (this.#stageViewStart >= 0 && chunks.length > this.#head) {
      // Grow the queue's last entry in place: same start, so scan offsets into it stay valid.
      chunks[chunks.length - 1] = stage.subarray(this.#stageViewStart, at + n);
    } else {
      this.#stageViewStart = at;
      chunks.push(stage.subarray(at, at + n));
    }
  }

  /** Next single byte (the RPC type byte), or -1 if none buffered. */
  readByte(): number {
    if (this.#scanning) throw new Error('FrameReader.readByte() called in the middle of a value');
    if (this.#buffered === 0) return -1;
    const c = this.#chunks[this.#head]!;
    const b = c[this.#headOff]!;
    this.#consume(1);
    return b;
  }

  /**
   * Up to `max` raw bytes that are already buffered (for streaming snapshot
   * data), or undefined when none are buffered. The consumer owns them: a
   * copy, or with `freshChunks` a view of memory nobody writes again where
   * the piece fills at least half of the memory behind its chunk (a
   * snapshot's bytes are most of every chunk they arrive in, so a view pins
   * little, and it saves copying every byte of a large snapshot once more).
   * A smaller piece, such as the first bytes of a snapshot sharing a read
   * chunk with its request or the tail before the next message, is copied.
   */
  readRaw(max: number): Uint8Array | undefined {
    if (this.#scanning) throw new Error('FrameReader.readRaw() called in the middle of a value');
    if (this.#buffered === 0 || !(max >= 1)) return undefined;
    const c = this.#chunks[this.#head]!;
    const off = this.#headOff;
    const n = Math.min(Math.floor(max), c.length - off);
    this.#consume(n);
    return this.#mayView(c, n) ? c.subarray(off, off + n) : ownCopy(c, off, off + n);
  }

  /**
   * Next complete msgpack value's bytes, or undefined if not all arrived yet
   * (state is kept). Throws ProtocolError / LimitExceededError. After a throw
   * the stream is unusable: there is no way to find the next message.
   */
  readValue(): Uint8Array | undefined {
    return this.#read(false) as Uint8Array | undefined;
  }

  /**
   * readValue() for a decoder that takes a value in parts
   * (decodeRequest/decodeResponse): a value that spans read chunks comes as
   * the list of its pieces, in order, instead of being copied whole into one
   * buffer first, which for a 66 KB AppendEntries arriving in 64 KiB socket
   * reads is every one of them. The pieces follow readValue()'s rule for
   * views and copies, taken over the whole value: they are views when
   * the value fills at least half of the memory behind all the chunks it
   * touches, otherwise each piece that doesn't fill half of its own chunk is
   * copied. Without `freshChunks` the value is one copy, as from readValue().
   */
  readValueParts(): Uint8Array | Uint8Array[] | undefined {
    return this.#read(true);
  }

  #read(parts: boolean): Uint8Array | Uint8Array[] | undefined {
    if (!this.#scanning) {
      if (this.#buffered === 0) return undefined;
      this.#scanning = true;
      this.#scanIdx = this.#head;
      this.#scanOff = this.#headOff;
      this.#scanned = 0;
      this.#skip = 0;
      this.#depth = 0;
    }
    const chunks = this.#chunks;
    const nChunks = chunks.length;
    const stack = this.#stack;
    const maxFrame = this.#maxFrameSize;
    let idx = this.#scanIdx;
    let off = this.#scanOff;
    let scanned = this.#scanned;
    let depth = this.#depth;
    let skip = this.#skip;
    let c: Uint8Array = idx < nChunks ? chunks[idx]! : EMPTY;

    for (;;) {
      if (skip > 0) {
        // Pass over bytes whose meaning doesn't matter for framing.
        for (;;) {
          const avail = c.length - off;
          if (avail >= skip) {
            off += skip;
            scanned += skip;
            skip = 0;
            break;
          }
          skip -= avail;
          scanned += avail;
          if (++idx >= nChunks) {
            this.#save(idx, 0, scanned, depth, skip);
            return undefined;
          }
          c = chunks[idx]!;
          off = 0;
        }
        if (!this.#skipEndsItem) continue;
      } else {
        while (off >= c.length) {
          if (++idx >= nChunks) {
            this.#save(idx, 0, scanned, depth, 0);
            return undefined;
          }
          c = chunks[idx]!;
          off = 0;
        }
        const b = c[off]!;
        const info = BYTE_INFO[b]!;
        if (info > 0) {
          // A scalar or fixstr of known total size.
          if (scanned + info > maxFrame) throw this.#tooBig(scanned + info);
          if (off + info <= c.length) {
            off += info;
            scanned += info;
          } else {
            off++;
            scanned++;
            skip = info - 1;
            this.#skipEndsItem = true;
            continue;
          }
        } else if (info === FIXMAP || info === FIXARRAY) {
          off++;
          scanned++;
          const items = info === FIXMAP ? (b & 0x0f) * 2 : b & 0x0f;
          if (items > 0) {
            if (depth >= this.#maxDepth) throw this.#tooDeep();
            if (scanned + items > maxFrame) throw this.#tooBig(scanned + items);
            stack[depth++] = items;
            continue;
          }
          if (scanned > maxFrame) throw this.#tooBig(scanned);
        } else if (info <= STR8 && info >= MAP32) {
          // A length field follows the type byte. It may straddle chunks;
          // if it hasn't all arrived, stop before the type byte and re-read
          // just this header (at most 5 bytes) next time.
          const tail = LENGTH_WIDTH[-info]!;
          let len: number;
          if (off + tail < c.length) {
            len = c[off + 1]!;
            for (let i = 2; i <= tail; i++) len = len * 256 + c[off + i]!;
          } else {
            len = this.#peekLength(idx, off + 1, tail);
            if (len < 0) {
              this.#save(idx, off, scanned, depth, 0);
              return undefined;
            }
          }
          off++;
          scanned++;
          skip = tail;
          if (info >= STR32) {
            if (scanned + tail + len > maxFrame) throw this.#tooBig(scanned + tail + len);
            skip += len;
            this.#skipEndsItem = true;
            continue;
          }
          const isMap = info <= MAP16;
          if (len > this.#maxEntries) {
            throw new LimitExceededError(
              `msgpack ${isMap ? 'map' : 'array'} of ${len} elements exceeds maxEntries (${this.#maxEntries})`,
            );
          }
          const items = isMap ? len * 2 : len;
          if (scanned + tail + items > maxFrame) throw this.#tooBig(scanned + tail + items);
          if (items === 0) {
            this.#skipEndsItem = true;
          } else {
            if (depth >= this.#maxDepth) throw this.#tooDeep();
            stack[depth++] = items;
            this.#skipEndsItem = false;
          }
          continue;
        } else if (info === NEVER_USED) {
          throw new ProtocolError(`invalid msgpack: byte ${hex(b)} is never used`);
        } else {
          throw new ProtocolError(`unexpected msgpack extension type ${hex(b)}: hashicorp/raft never sends one`);
        }
      }

      // An item ended: close every container it completes.
      while (depth > 0) {
        const left = stack[depth - 1]! - 1;
        if (left > 0) {
          stack[depth - 1] = left;
          break;
        }
        depth--;
      }
      if (depth === 0) return this.#finish(idx, off, scanned, parts);
    }
  }

  #save(idx: number, off: number, scanned: number, depth: number, skip: number): void {
    // Normalise "one past the last chunk" to the end of the last chunk, so
    // offsets stay valid when that chunk (a staging view) grows in place.
    if (idx >= this.#chunks.length) {
      idx = this.#chunks.length - 1;
      off = this.#chunks[idx]!.length;
    }
    this.#scanIdx = idx;
    this.#scanOff = off;
    this.#scanned = scanned;
    this.#depth = depth;
    this.#skip = skip;
  }

  /** Reads a `tail`-byte big-endian length starting at (idx, off), across chunks; -1 if not all buffered. */
  #peekLength(idx: number, off: number, tail: number): number {
    const chunks = this.#chunks;
    let len = 0;
    for (let i = 0; i < tail; i++) {
      while (idx < chunks.length && off >= chunks[idx]!.length) {
        idx++;
        off = 0;
      }
      if (idx >= chunks.length) return -1;
      len = len * 256 + chunks[idx]![off++]!;
    }
    return len;
  }

  /** The value spans from (#head, #headOff) to (endIdx, endOff), `size` bytes; `parts`: see readValueParts(). */
  #finish(endIdx: number, endOff: number, size: number, parts: boolean): Uint8Array | Uint8Array[] {
    this.#scanning = false;
    const chunks = this.#chunks;
    const head = this.#head;
    const start = this.#headOff;
    let out: Uint8Array | Uint8Array[];
    if (endIdx === head) {
      const c = chunks[head]!;
      out = this.#mayView(c, size) ? c.subarray(start, endOff) : ownCopy(c, start, endOff);
    } else if (parts && this.#freshChunks) {
      out = this.#pieces(endIdx, endOff, size);
    } else {
      out = Buffer.allocUnsafe(size);
      let at = 0;
      for (let i = head; i <= endIdx; i++) {
        const c = chunks[i]!;
        const from = i === head ? start : 0;
        const to = i === endIdx ? endOff : c.length;
        out.set(from === 0 && to === c.length ? c : c.subarray(from, to), at);
        at += to - from;
      }
    }
    this.#consume(size);
    return out;
  }

  /** The value from (#head, #headOff) to (endIdx, endOff) as views or copies of its pieces (fresh chunks only). */
  #pieces(endIdx: number, endOff: number, size: number): Uint8Array[] {
    const chunks = this.#chunks;
    const head = this.#head;
    let behind = 0;
    let last: ArrayBufferLike | undefined;
    for (let i = head; i <= endIdx; i++) {
      const b = chunks[i]!.buffer;
      if (b !== last) behind += b.byteLength; // staging views share one slab
      last = b;
    }
    const allViews = size * 2 >= behind;
    const out = new Array<Uint8Array>(endIdx - head + 1);
    for (let i = head; i <= endIdx; i++) {
      const c = chunks[i]!;
      const from = i === head ? this.#headOff : 0;
      const to = i === endIdx ? endOff : c.length;
      out[i - head] = allViews || this.#mayView(c, to - from) ? c.subarray(from, to) : ownCopy(c, from, to);
    }
    return out;
  }

  /**
   * Whether `size` bytes of chunk `c` may be handed out as a view: only from
   * fresh chunks, and only where the view pins at most as much again as it
   * holds (the memory behind `c`, not just `c`, is what a view keeps alive).
   */
  #mayView(c: Uint8Array, size: number): boolean {
    return this.#freshChunks && size * 2 >= c.buffer.byteLength;
  }

  /** Drops `n` bytes from the front of the queue. */
  #consume(n: number): void {
    this.#buffered -= n;
    const chunks = this.#chunks;
    let head = this.#head;
    let off = this.#headOff + n;
    while (head < chunks.length && off >= chunks[head]!.length) {
      const len = chunks[head]!.length;
      if (off === len && head === chunks.length - 1) {
        // Fully consumed the last chunk: keep no references.
        chunks.length = 0;
        head = 0;
        off = 0;
        this.#stageViewStart = -1;
        break;
      }
      off -= len;
      head++;
    }
    this.#headOff = off;
    if (head > 32 && head * 2 > chunks.length) {
      chunks.splice(0, head);
      head = 0;
    }
    this.#head = head;
  }

  #tooBig(size: number): LimitExceededError {
    return new LimitExceededError(`msgpack value of at least ${size} bytes exceeds maxFrameSize (${this.#maxFrameSize})`);
  }

  #tooDeep(): LimitExceededError {
    return new LimitExceededError(`msgpack value nested deeper than maxDepth (${this.#maxDepth})`);
  }
}
