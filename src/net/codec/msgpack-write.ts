/**
 * The msgpack writing primitives of go-msgpack's rules, shared by the
 * generated struct writers (gen/encode-structs.ts) and MessageWriter.
 */
import type { RPCHeader } from '../../commands.ts';
import { InvalidValueError } from '../../errors.ts';
import { TIME_BINARY_LENGTH, writeTimeBinary, writeTimestamp } from './go-time.ts';
/** Below this, a byte loop beats the native call behind TypedArray#set. */
const SMALL_COPY = 48;
const TWO_32 = 4_294_967_296;

/** A map key as go-msgpack writes it: fixstr header + ASCII name. */
export function key(name: string): Uint8Array {
  const k = new Uint8Array(name.length + 1);
  k[0] = 0xa0 | name.length;
  for (let i = 0; i < name.length; i++) k[i + 1] = name.charCodeAt(i);
  return k;
}

/**
 * Upper bound of a struct's bytes besides its byte fields and entries: every
 * key (the longest Go struct has 12 fields, names <= 18 chars), every integer
 * at 9 bytes, every byte-field header at 5. Generous on purpose.
 */
export const STRUCT_OVERHEAD = 12 * (19 + 9) + 16;
/** Upper bound of one Log besides its Data and Extensions (6 keys, 3 ints, 2 headers, a 16-byte time). */
export const LOG_OVERHEAD = 6 * 11 + 3 * 9 + 2 * 5 + 17 + 8;

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (typeof v === 'object') return v.constructor?.name ?? 'object';
  return typeof v;
}

export function invalid(struct: string, field: string, expected: string, v: unknown): InvalidValueError {
  return new InvalidValueError(`${struct}.${field}: expected ${expected}, got ${describe(v)}`);
}

export function byteLength(v: unknown): number {
  return v instanceof Uint8Array ? v.length : 0;
}

export function putKey(b: Uint8Array, p: number, k: Uint8Array): number {
  const n = k.length;
  for (let i = 0; i < n; i++) b[p + i] = k[i]!;
  return p + n;
}

/** Unsigned rule (go-msgpack EncodeUint, and 0.5.5's EncodeInt for v >= 0): smallest width. */
export function putUint(b: Uint8Array, p: number, v: number, struct: string, field: string): number {
  if (typeof v === 'number' && v >>> 0 === v) {
    if (v < 0x80) {
      b[p] = v;
      return p + 1;
    }
    if (v < 0x100) {
      b[p] = 0xcc;
      b[p + 1] = v;
      return p + 2;
    }
    if (v < 0x10000) {
      b[p] = 0xcd;
      b[p + 1] = v >>> 8;
      b[p + 2] = v;
      return p + 3;
    }
    b[p] = 0xce;
    b[p + 1] = v >>> 24;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 8;
    b[p + 4] = v;
    return p + 5;
  }
  if (!Number.isSafeInteger(v) || v < 0) throw invalid(struct, field, 'a non-negative safe integer', v);
  b[p] = 0xcf;
  return put64(b, p + 1, v);
}

/** Signed rule of go-msgpack v2 (EncodeInt): fixint up to 127, then the smallest signed width. */
export function putInt(b: Uint8Array, p: number, v: number, latest: boolean, struct: string, field: string): number {
  if (!latest || typeof v !== 'number' || (v >= 0 && v < 0x80)) return putUint(b, p, v, struct, field);
  if (!Number.isSafeInteger(v) || v < 0) throw invalid(struct, field, 'a non-negative safe integer', v);
  if (v < 0x8000) {
    b[p] = 0xd1;
    b[p + 1] = v >>> 8;
    b[p + 2] = v;
    return p + 3;
  }
  if (v < 0x80000000) {
    b[p] = 0xd2;
    b[p + 1] = v >>> 24;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 8;
    b[p + 4] = v;
    return p + 5;
  }
  b[p] = 0xd3;
  return put64(b, p + 1, v);
}

export function put64(b: Uint8Array, p: number, v: number): number {
  const hi = Math.floor(v / TWO_32);
  const lo = v - hi * TWO_32;
  b[p] = hi >>> 24;
  b[p + 1] = hi >>> 16;
  b[p + 2] = hi >>> 8;
  b[p + 3] = hi;
  b[p + 4] = lo >>> 24;
  b[p + 5] = lo >>> 16;
  b[p + 6] = lo >>> 8;
  b[p + 7] = lo;
  return p + 8;
}

export function putBool(b: Uint8Array, p: number, v: boolean, struct: string, field: string): number {
  if (v === true) b[p] = 0xc3;
  else if (v === false) b[p] = 0xc2;
  else throw invalid(struct, field, 'a boolean', v);
  return p + 1;
}

/** Raw-string header for `n` bytes: fixstr, str16 or str32 — go-msgpack never writes str8. */
export function putRawHeader(b: Uint8Array, p: number, n: number): number {
  if (n < 32) {
    b[p] = 0xa0 | n;
    return p + 1;
  }
  if (n < 0x10000) {
    b[p] = 0xda;
    b[p + 1] = n >>> 8;
    b[p + 2] = n;
    return p + 3;
  }
  b[p] = 0xdb;
  b[p + 1] = n >>> 24;
  b[p + 2] = n >>> 16;
  b[p + 3] = n >>> 8;
  b[p + 4] = n;
  return p + 5;
}

/** A Go []byte: nil → c0, otherwise a raw string (empty → a0). */
export function putBytes(b: Uint8Array, p: number, v: Uint8Array | null | undefined, struct: string, field: string): number {
  if (v === null || v === undefined) {
    b[p] = 0xc0;
    return p + 1;
  }
  if (!(v instanceof Uint8Array)) throw invalid(struct, field, 'a Uint8Array or null', v);
  const n = v.length;
  if (n > 0xffffffff) throw invalid(struct, field, 'at most 4 GiB - 1 bytes', v);
  p = putRawHeader(b, p, n);
  if (n < SMALL_COPY) {
    for (let i = 0; i < n; i++) b[p + i] = v[i]!;
  } else {
    b.set(v, p);
  }
  return p + n;
}

export function headerOf(r: { rpcHeader: RPCHeader }, struct: string): RPCHeader {
  const h = r?.rpcHeader;
  if (h === null || typeof h !== 'object') throw invalid(struct, 'rpcHeader', 'an RPCHeader object', h);
  return h;
}

export function headerSize(h: RPCHeader, latest: boolean): number {
  return latest ? byteLength(h.addr) + byteLength(h.id) : 0;
}

/** Log.AppendedAt: Go's MarshalBinary form (fields 'latest' default) or msgpack's timestamp form. */
export function putTime(b: Uint8Array, p: number, v: Date | null | undefined, msgpackTime: boolean, field: string): number {
  if (msgpackTime) {
    const n = writeTimestamp(v, b, p + 1, field);
    b[p] = n === 0 ? 0xc0 : 0xa0 | n;
    return p + 1 + n;
  }
  b[p] = 0xa0 | TIME_BINARY_LENGTH;
  writeTimeBinary(v, b, p + 1, field);
  return p + 1 + TIME_BINARY_LENGTH;
}

/** Array header for `n` elements (fixarray, array16, array32). */
export function putArrayHeader(b: Uint8Array, p: number, n: number): number {
  if (n < 16) {
    b[p] = 0x90 | n;
    return p + 1;
  }
  if (n < 0x10000) {
    b[p] = 0xdc;
    b[p + 1] = n >>> 8;
    b[p + 2] = n;
    return p + 3;
  }
  b[p] = 0xdd;
  b[p + 1] = n >>> 24;
  b[p + 2] = n >>> 16;
  b[p + 3] = n >>> 8;
  b[p + 4] = n;
  return p + 5;
}
