/**
 * Go `time.Time` as hashicorp/raft puts it on the wire (Log.AppendedAt), to
 * and from JavaScript `Date`s without losing Go's nanoseconds.
 *
 * Two encodings exist, chosen by the Go sender's MsgpackUseNewTimeFormat:
 * - binary (default): `time.MarshalBinary`, 15 bytes (16 for version 2, which
 *   adds a seconds-of-offset byte): version, int64 BE seconds since
 *   0001-01-01 UTC, int32 BE nanoseconds, int16 BE zone offset in minutes
 *   (-1 = UTC). We always write version 1 with zone UTC.
 * - msgpack timestamp body: 4 bytes (uint32 unix seconds, no nanoseconds),
 *   8 bytes (nsec << 34 | unix seconds, for 0 <= seconds < 2^34) or 12 bytes
 *   (uint32 nsec, int64 unix seconds). Go writes the zero time as nil.
 *
 * Go's zero time (0001-01-01T00:00:00Z) means "not set", so it decodes to
 * `null`, and `null` encodes as it.
 */
import { InvalidValueError, ProtocolError } from '../../errors.ts';

/** Unix seconds of Go's zero time, 0001-01-01T00:00:00Z. */
export const GO_ZERO_TIME_UNIX_SECONDS = -62_135_596_800;

/** Length of `time.MarshalBinary` output for a UTC time (version 1). */
export const TIME_BINARY_LENGTH = 15;

const NS_PER_MS = 1_000_000;
const NS_PER_S = 1_000_000_000;
const TWO_32 = 4_294_967_296;
const TWO_34 = 17_179_869_184;
/** ECMAScript's Date range is ±8.64e15 ms around the epoch. */
const MAX_DATE_MS = 8.64e15;

/**
 * A `Date` that also keeps the sub-millisecond nanoseconds Go times carry, so
 * a decoded AppendedAt re-encodes to the same bytes.
 *
 * The extra precision is stored as the nanoseconds below the millisecond
 * (0..999_999) and is added to whatever millisecond the Date holds; `Date`
 * setters change the milliseconds and leave that part alone. Equality helpers
 * that compare `getTime()` (e.g. vitest's `toEqual`) ignore it: compare
 * `unixNanoseconds` for exactness.
 */
export class PreciseDate extends Date {
  readonly #subMillisecondNanoseconds: number;

  /**
   * @param epochMilliseconds as for `new Date(ms)`.
   * @param subMillisecondNanoseconds 0..999_999, added below the millisecond.
   */
  constructor(epochMilliseconds: number, subMillisecondNanoseconds = 0) {
    super(epochMilliseconds);
    if (!Number.isInteger(subMillisecondNanoseconds) || subMillisecondNanoseconds < 0 || subMillisecondNanoseconds >= NS_PER_MS) {
      throw new RangeError(`subMillisecondNanoseconds must be an integer in 0..999999, got ${String(subMillisecondNanoseconds)}`);
    }
    this.#subMillisecondNanoseconds = subMillisecondNanoseconds;
  }

  /**
   * Builds from Unix seconds and nanoseconds within that second, like Go's
   * `time.Unix(sec, nsec)` (but nsec must already be in 0..999_999_999).
   */
  static fromUnix(seconds: number, nanoseconds: number): PreciseDate {
    if (!Number.isSafeInteger(seconds)) {
      throw new RangeError(`seconds must be a safe integer, got ${String(seconds)}`);
    }
    if (!Number.isInteger(nanoseconds) || nanoseconds < 0 || nanoseconds >= NS_PER_S) {
      throw new RangeError(`nanoseconds must be an integer in 0..999999999, got ${String(nanoseconds)}`);
    }
    const ms = Math.floor(nanoseconds / NS_PER_MS);
    return new PreciseDate(seconds * 1000 + ms, nanoseconds - ms * NS_PER_MS);
  }

  /** Builds from nanoseconds since the Unix epoch (Go's `time.Unix(0, ns)`). */
  static fromUnixNanoseconds(nanoseconds: bigint): PreciseDate {
    let ms = nanoseconds / 1_000_000n;
    let sub = nanoseconds - ms * 1_000_000n;
    if (sub < 0n) {
      ms -= 1n;
      sub += 1_000_000n;
    }
    return new PreciseDate(Number(ms), Number(sub));
  }

  /**
   * Parses an ISO 8601 string with up to 9 fractional digits
   * (e.g. `2026-11-21T10:30:00.123456789Z`), which `Date.parse` would cut to
   * milliseconds.
   */
  static fromISOString(iso: string): PreciseDate {
    const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
    const seconds = m ? Date.parse(`${m[1]}${m[3]}`) : Number.NaN;
    if (!m || Number.isNaN(seconds)) {
      throw new RangeError(`not an ISO 8601 date-time: ${JSON.stringify(iso)}`);
    }
    const nanos = m[2] === undefined ? 0 : Number(m[2].padEnd(9, '0'));
    return PreciseDate.fromUnix(seconds / 1000, nanos);
  }

  /** Nanoseconds below the millisecond, 0..999_999. */
  get subMillisecondNanoseconds(): number {
    return this.#subMillisecondNanoseconds;
  }

  /** Nanoseconds within the second, 0..999_999_999, like Go's `t.Nanosecond()`. */
  get nanoseconds(): number {
    return this.getUTCMilliseconds() * NS_PER_MS + this.#subMillisecondNanoseconds;
  }

  /** Exact nanoseconds since the Unix epoch, like Go's `t.UnixNano()` (without its overflow). */
  get unixNanoseconds(): bigint {
    return BigInt(this.getTime()) * 1_000_000n + BigInt(this.#subMillisecondNanoseconds);
  }

  /** `toISOString` with all 9 fractional digits. */
  toPreciseISOString(): string {
    const iso = this.toISOString(); // ...ss.mmmZ
    return `${iso.slice(0, -4)}${String(this.nanoseconds).padStart(9, '0')}Z`;
  }
}

// Scratch results of splitTime, so the encoder's hot path allocates nothing.
let splitSeconds = 0;
let splitNanos = 0;

/** Sets splitSeconds/splitNanos from `t`; returns true when `t` is Go's zero time. */
function splitTime(t: Date | null | undefined, field: string): boolean {
  if (t === null || t === undefined) {
    splitSeconds = GO_ZERO_TIME_UNIX_SECONDS;
    splitNanos = 0;
    return true;
  }
  if (!(t instanceof Date)) {
    throw new InvalidValueError(`${field}: expected a Date or null, got ${typeof t}`);
  }
  const ms = t.getTime();
  if (Number.isNaN(ms)) throw new InvalidValueError(`${field}: invalid Date`);
  const seconds = Math.floor(ms / 1000);
  splitSeconds = seconds;
  splitNanos = (ms - seconds * 1000) * NS_PER_MS + (t instanceof PreciseDate ? t.subMillisecondNanoseconds : 0);
  return seconds === GO_ZERO_TIME_UNIX_SECONDS && splitNanos === 0;
}

function writeInt64(out: Uint8Array, offset: number, value: number): void {
  // Two's complement of a safe integer, as two 32-bit halves.
  const hi = Math.floor(value / TWO_32);
  const lo = value - hi * TWO_32;
  const h = hi >>> 0;
  out[offset] = h >>> 24;
  out[offset + 1] = h >>> 16;
  out[offset + 2] = h >>> 8;
  out[offset + 3] = h;
  out[offset + 4] = lo >>> 24;
  out[offset + 5] = lo >>> 16;
  out[offset + 6] = lo >>> 8;
  out[offset + 7] = lo;
}

function writeUint32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = value >>> 16;
  out[offset + 2] = value >>> 8;
  out[offset + 3] = value;
}

function readUint32(b: Uint8Array, offset: number): number {
  return ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
}

/** Reads a big-endian int64; exact up to 2^53, and anything beyond is far outside Date's range anyway. */
function readInt64(b: Uint8Array, offset: number): number {
  const hi = readUint32(b, offset) | 0;
  return hi * TWO_32 + readUint32(b, offset + 4);
}

function toPreciseDate(unixSeconds: number, nanos: number, field: string): PreciseDate | null {
  if (nanos >= NS_PER_S) {
    throw new ProtocolError(`${field}: nanoseconds out of range (${nanos})`);
  }
  if (unixSeconds === GO_ZERO_TIME_UNIX_SECONDS && nanos === 0) return null;
  const ms = unixSeconds * 1000 + Math.floor(nanos / NS_PER_MS);
  if (!(Math.abs(ms) <= MAX_DATE_MS)) {
    throw new InvalidValueError(`${field}: time is outside the range of a JavaScript Date`);
  }
  return new PreciseDate(ms, nanos % NS_PER_MS);
}

/**
 * Writes `time.MarshalBinary` of `t` (UTC, version 1): exactly
 * TIME_BINARY_LENGTH bytes at `offset`. `null` writes Go's zero time.
 */
export function writeTimeBinary(t: Date | null | undefined, out: Uint8Array, offset: number, field = 'time'): void {
  splitTime(t, field);
  out[offset] = 1;
  writeInt64(out, offset + 1, splitSeconds - GO_ZERO_TIME_UNIX_SECONDS);
  writeUint32(out, offset + 9, splitNanos);
  out[offset + 13] = 0xff; // zone offset -1 minute: UTC
  out[offset + 14] = 0xff;
}

/**
 * Writes the msgpack timestamp body of `t` at `offset` the way go-msgpack v2
 * does (smallest of 4/8/12 bytes) and returns its length, or 0 (nothing
 * written) for the zero time, which Go sends as nil.
 */
export function writeTimestamp(t: Date | null | undefined, out: Uint8Array, offset: number, field = 'time'): 0 | 4 | 8 | 12 {
  if (splitTime(t, field)) return 0;
  const seconds = splitSeconds;
  const nanos = splitNanos;
  if (seconds >= 0 && seconds < TWO_34) {
    const hiSeconds = Math.floor(seconds / TWO_32);
    const lo = seconds - hiSeconds * TWO_32;
    if (nanos === 0 && hiSeconds === 0) {
      writeUint32(out, offset, lo);
      return 4;
    }
    writeUint32(out, offset, (nanos * 4 + hiSeconds) >>> 0);
    writeUint32(out, offset + 4, lo);
    return 8;
  }
  writeUint32(out, offset, nanos);
  writeInt64(out, offset + 4, seconds);
  return 12;
}

/** `time.MarshalBinary` of `t` as a new array (the encoder writes in place instead). */
export function marshalTimeBinary(t: Date | null | undefined): Uint8Array {
  const out = new Uint8Array(TIME_BINARY_LENGTH);
  writeTimeBinary(t, out, 0);
  return out;
}

/** The msgpack timestamp body of `t` as a new array, or null for the zero time. */
export function marshalTimestamp(t: Date | null | undefined): Uint8Array | null {
  const scratch = new Uint8Array(12);
  const n = writeTimestamp(t, scratch, 0);
  return n === 0 ? null : scratch.slice(0, n);
}

/** Parses `time.MarshalBinary` output (version 1 or 2); the zone is dropped since the instant is absolute. */
export function unmarshalTimeBinary(bytes: Uint8Array, field = 'time'): PreciseDate | null {
  return binaryAt(bytes, 0, bytes.length, field);
}

/** Parses a msgpack timestamp body (4, 8 or 12 bytes). */
export function unmarshalTimestamp(bytes: Uint8Array, field = 'time'): PreciseDate | null {
  return timestampAt(bytes, 0, bytes.length, field);
}

/**
 * Parses either encoding, told apart by length (4/8/12 timestamp, 15/16
 * binary), since a receiver can't know which option its Go peer runs with.
 */
export function decodeGoTime(bytes: Uint8Array, field = 'time'): PreciseDate | null {
  return decodeGoTimeAt(bytes, 0, bytes.length, field);
}

/** decodeGoTime of `length` bytes at `offset`, so the decoder needn't make a view first. */
export function decodeGoTimeAt(bytes: Uint8Array, offset: number, length: number, field = 'time'): PreciseDate | null {
  return length >= 15 ? binaryAt(bytes, offset, length, field) : timestampAt(bytes, offset, length, field);
}

function binaryAt(b: Uint8Array, offset: number, length: number, field: string): PreciseDate | null {
  const version = b[offset];
  if (!((version === 1 && length === 15) || (version === 2 && length === 16))) {
    throw new ProtocolError(`${field}: not a Go time.MarshalBinary value (version ${String(version)}, ${length} bytes)`);
  }
  const sinceYear1 = readInt64(b, offset + 1);
  const nanos = readUint32(b, offset + 9);
  return toPreciseDate(sinceYear1 + GO_ZERO_TIME_UNIX_SECONDS, nanos, field);
}

function timestampAt(b: Uint8Array, offset: number, length: number, field: string): PreciseDate | null {
  switch (length) {
    case 4:
      return toPreciseDate(readUint32(b, offset), 0, field);
    case 8: {
      const hi = readUint32(b, offset);
      return toPreciseDate((hi & 3) * TWO_32 + readUint32(b, offset + 4), hi >>> 2, field);
    }
    case 12:
      return toPreciseDate(readInt64(b, offset + 4), readUint32(b, offset), field);
    default:
      throw new ProtocolError(`${field}: a msgpack timestamp is 4, 8 or 12 bytes, got ${length}`);
  }
}
