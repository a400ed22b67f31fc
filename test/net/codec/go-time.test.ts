/** Go time.Time on the wire (Log.AppendedAt): MarshalBinary and msgpack timestamp bodies, to nanoseconds. */
import { encodeTimeSpecToTimestamp } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidValueError, ProtocolError } from '../../../src/errors.ts';
import {
  GO_ZERO_TIME_UNIX_SECONDS,
  PreciseDate,
  decodeGoTime,
  marshalTimeBinary,
  marshalTimestamp,
  unmarshalTimeBinary,
  unmarshalTimestamp,
} from '../../../src/net/codec/go-time.ts';

const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const exact = (d: Date | null): string | null => (d === null ? null : (d as PreciseDate).toPreciseISOString());

/** Every instant a JavaScript Date can hold, in nanoseconds since the epoch. */
const MAX_NS = 8_640_000_000_000_000_000_000n;
const anyInstant = fc.bigInt({ min: -MAX_NS, max: MAX_NS });

describe('PreciseDate', () => {
  it('keeps nanoseconds beside the Date milliseconds', () => {
    const d = PreciseDate.fromISOString('2026-11-21T10:30:00.123456789Z');
    expect(d.getTime()).toBe(Date.parse('2026-11-21T10:30:00.123Z'));
    expect(d.nanoseconds).toBe(123_456_789);
    expect(d.subMillisecondNanoseconds).toBe(456_789);
    expect(d.unixNanoseconds).toBe(1_795_257_000_123_456_789n);
    expect(d.toPreciseISOString()).toBe('2026-11-21T10:30:00.123456789Z');
    expect(d).toBeInstanceOf(Date);
  });

  it('builds from Unix seconds + nanoseconds and from bigint nanoseconds, before the epoch too', () => {
    expect(PreciseDate.fromUnix(-1, 999_999_999).toPreciseISOString()).toBe('1969-12-31T23:59:59.999999999Z');
    expect(PreciseDate.fromUnixNanoseconds(-1n).toPreciseISOString()).toBe('1969-12-31T23:59:59.999999999Z');
    expect(PreciseDate.fromUnixNanoseconds(-1n).unixNanoseconds).toBe(-1n);
    expect(PreciseDate.fromISOString('2000-01-01T00:00:00+01:00').toPreciseISOString()).toBe('1999-12-31T23:00:00.000000000Z');
    expect(PreciseDate.fromISOString('2000-01-01T00:00:00.5Z').nanoseconds).toBe(500_000_000);
  });

  it('rejects out-of-range parts', () => {
    expect(() => new PreciseDate(0, 1_000_000)).toThrow(RangeError);
    expect(() => new PreciseDate(0, -1)).toThrow(RangeError);
    expect(() => PreciseDate.fromUnix(0, 1e9)).toThrow(RangeError);
    expect(() => PreciseDate.fromUnix(0.5, 0)).toThrow(RangeError);
    expect(() => PreciseDate.fromISOString('yesterday')).toThrow(RangeError);
  });

  it('round-trips bigint nanoseconds exactly', () => {
    fc.assert(
      fc.property(anyInstant, (ns) => {
        expect(PreciseDate.fromUnixNanoseconds(ns).unixNanoseconds).toBe(ns);
      }),
      { numRuns: 500 },
    );
  });
});

describe('time.MarshalBinary (default format)', () => {
  it('matches the Go golden bytes for 2026-11-21T10:30:00.123456789Z', () => {
    const d = PreciseDate.fromISOString('2026-11-21T10:30:00.123456789Z');
    expect(hex(marshalTimeBinary(d))).toBe('010000000ee29369a8075bcd15ffff');
    expect(exact(unmarshalTimeBinary(unhex('010000000ee29369a8075bcd15ffff')))).toBe('2026-11-21T10:30:00.123456789Z');
  });

  it('writes the zero time for null and decodes it (and the same instant) back to null', () => {
    expect(hex(marshalTimeBinary(null))).toBe('01000000000000000000000000ffff');
    expect(hex(marshalTimeBinary(undefined))).toBe('01000000000000000000000000ffff');
    expect(unmarshalTimeBinary(unhex('01000000000000000000000000ffff'))).toBeNull();
    expect(marshalTimeBinary(new Date(GO_ZERO_TIME_UNIX_SECONDS * 1000))).toEqual(marshalTimeBinary(null));
  });

  it('uses millisecond precision for a plain Date', () => {
    const d = new Date('2026-11-21T10:30:00.123Z');
    expect(exact(unmarshalTimeBinary(marshalTimeBinary(d)))).toBe('2026-11-21T10:30:00.123000000Z');
  });

  it('ignores the zone offset (the seconds are absolute), including version 2 with a seconds byte', () => {
    const utc = '010000000ee29369a8075bcd15ffff';
    const plus0530 = `${utc.slice(0, -4)}014a`; // +330 minutes
    const v2 = `02${utc.slice(2, -4)}014a0f`; // +05:30:15
    for (const bytes of [plus0530, v2]) {
      expect(exact(unmarshalTimeBinary(unhex(bytes)))).toBe('2026-11-21T10:30:00.123456789Z');
    }
  });

  it('handles instants before year 1 (negative seconds since year 1)', () => {
    const d = PreciseDate.fromISOString('-000100-06-01T12:00:00.000000001Z');
    expect(exact(unmarshalTimeBinary(marshalTimeBinary(d)))).toBe(d.toPreciseISOString());
  });

  it('rejects malformed input', () => {
    expect(() => unmarshalTimeBinary(unhex('010000'))).toThrow(ProtocolError);
    expect(() => unmarshalTimeBinary(unhex('030000000ee29369a8075bcd15ffff'))).toThrow(ProtocolError);
    expect(() => unmarshalTimeBinary(unhex('010000000ee29369a83b9aca00ffff'))).toThrow(ProtocolError); // nsec = 1e9
    expect(() => unmarshalTimeBinary(unhex('017fffffffffffffff00000000ffff'))).toThrow(InvalidValueError); // beyond Date
    expect(() => marshalTimeBinary(new Date(Number.NaN))).toThrow(InvalidValueError);
  });
});

describe('msgpack timestamp body (MsgpackUseNewTimeFormat)', () => {
  it('matches the Go golden bytes (timestamp 64) and writes nil for the zero time', () => {
    const d = PreciseDate.fromISOString('2026-11-21T10:30:00.123456789Z');
    expect(hex(marshalTimestamp(d))).toBe('1d6f34546b0172a8');
    expect(exact(unmarshalTimestamp(unhex('1d6f34546b0172a8')))).toBe('2026-11-21T10:30:00.123456789Z');
    expect(marshalTimestamp(null)).toBeNull();
    expect(marshalTimestamp(new Date(GO_ZERO_TIME_UNIX_SECONDS * 1000))).toBeNull();
  });

  it('picks 4 bytes without nanoseconds, 12 bytes before 1970 or from 2514 on', () => {
    expect(marshalTimestamp(new Date('2020-01-01T00:00:00Z'))?.length).toBe(4);
    expect(marshalTimestamp(new Date('2020-01-01T00:00:00.001Z'))?.length).toBe(8);
    expect(marshalTimestamp(new Date('2107-01-01T00:00:00Z'))?.length).toBe(8); // seconds >= 2^32
    expect(marshalTimestamp(new Date('1969-12-31T23:59:59Z'))?.length).toBe(12);
    expect(marshalTimestamp(new Date('2600-01-01T00:00:00Z'))?.length).toBe(12);
  });

  it('agrees with the msgpack spec encoder of @msgpack/msgpack for every instant but the zero time', () => {
    fc.assert(
      fc.property(anyInstant, (ns) => {
        const d = PreciseDate.fromUnixNanoseconds(ns);
        const sec = Math.floor(d.getTime() / 1000);
        const spec = encodeTimeSpecToTimestamp({ sec, nsec: d.nanoseconds });
        const ours = marshalTimestamp(d);
        if (sec === GO_ZERO_TIME_UNIX_SECONDS && d.nanoseconds === 0) expect(ours).toBeNull();
        else expect(hex(ours)).toBe(hex(spec));
      }),
      { numRuns: 500 },
    );
  });

  it('rejects malformed input', () => {
    expect(() => unmarshalTimestamp(unhex('0000'))).toThrow(ProtocolError);
    expect(() => unmarshalTimestamp(unhex('ffffffff00000000'))).toThrow(ProtocolError); // nsec > 999999999
    expect(() => unmarshalTimestamp(unhex('3b9aca007fffffffffffffff'))).toThrow(ProtocolError);
    expect(() => unmarshalTimestamp(unhex('000000007fffffffffffffff'))).toThrow(InvalidValueError);
  });
});

describe('decodeGoTime', () => {
  it('round-trips every Date-representable instant exactly in both formats, telling them apart by length', () => {
    fc.assert(
      fc.property(anyInstant, (ns) => {
        const d = PreciseDate.fromUnixNanoseconds(ns);
        const isZero = ns === BigInt(GO_ZERO_TIME_UNIX_SECONDS) * 1_000_000_000n;
        const want = isZero ? null : d.toPreciseISOString();
        expect(exact(decodeGoTime(marshalTimeBinary(d)))).toBe(want);
        const ts = marshalTimestamp(d);
        expect(ts === null ? null : exact(decodeGoTime(ts))).toBe(want);
      }),
      { numRuns: 1000 },
    );
  });

  it('decodes the Go zero time in the 12-byte timestamp form to null', () => {
    const body = new Uint8Array(12);
    new DataView(body.buffer).setBigInt64(4, BigInt(GO_ZERO_TIME_UNIX_SECONDS));
    expect(decodeGoTime(body)).toBeNull();
  });

  it('rejects lengths neither format uses', () => {
    for (const n of [0, 1, 5, 9, 13, 14, 17]) expect(() => decodeGoTime(new Uint8Array(n))).toThrow(ProtocolError);
  });
});
