/** FrameReader: splitting an untrusted byte stream into msgpack values, within limits. */
import { describe, expect, it } from 'vitest';
import { LimitExceededError, ProtocolError } from '../../../src/errors.ts';
import { FrameReader } from '../../../src/net/codec/frame-reader.ts';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

/**
 * readValueParts() gave `value` in `views.length` pieces; where `views` names
 * a chunk, that piece is a view of it (undefined: checked by the caller).
 */
function expectPieces(got: Uint8Array | Uint8Array[] | undefined, value: Uint8Array, views: Array<Uint8Array | undefined>): void {
  const parts = got as Uint8Array[];
  expect(parts).toHaveLength(views.length);
  views.forEach((chunk, i) => {
    if (chunk !== undefined) expect(parts[i]!.buffer).toBe(chunk.buffer);
  });
  expect(Buffer.from(Buffer.concat(parts)).equals(Buffer.from(value))).toBe(true);
}
const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));
/** A str16 of `n` bytes (`n` < 65536): 3 header bytes + payload. */
function str16(n: number, fill = 0x61): Uint8Array {
  const out = new Uint8Array(3 + n).fill(fill);
  out[0] = 0xda;
  out[1] = n >> 8;
  out[2] = n & 0xff;
  return out;
}

describe('FrameReader', () => {
  it('returns nothing when empty', () => {
    const r = new FrameReader();
    expect(r.readByte()).toBe(-1);
    expect(r.readValue()).toBeUndefined();
    expect(r.readRaw(10)).toBeUndefined();
    expect(r.buffered).toBe(0);
    expect(r.midFrame).toBe(false);
  });

  it('reads a type byte then a value, copied out of the pushed chunk so later writes to it change nothing (issue 9, defect 2)', () => {
    const value = str16(2000);
    const chunk = new Uint8Array(1 + value.length + 1);
    chunk[0] = 7;
    chunk.set(value, 1);
    chunk[chunk.length - 1] = 0xc0;
    const r = new FrameReader();
    r.push(chunk);
    expect(r.readByte()).toBe(7);
    const v = r.readValue()!;
    expect(hex(v)).toBe(hex(value));
    expect(v.buffer).not.toBe(chunk.buffer);
    expect(hex(r.readValue())).toBe('c0');
    chunk.fill(0xee); // the writer reuses its buffer, as an in-process StreamLayer lets it
    expect(hex(v)).toBe(hex(value));
    expect(r.buffered).toBe(0);
  });

  it('joins a value that spans chunks', () => {
    const value = str16(5000);
    const r = new FrameReader();
    r.push(value.subarray(0, 1500));
    expect(r.readValue()).toBeUndefined();
    expect(r.midFrame).toBe(true);
    r.push(value.subarray(1500, 3100));
    expect(r.readValue()).toBeUndefined();
    r.push(value.subarray(3100));
    expect(hex(r.readValue())).toBe(hex(value));
    expect(r.midFrame).toBe(false);
    expect(r.buffered).toBe(0);
  });

  it('finds value ends byte by byte, with headers split anywhere', () => {
    // {"a": [1, -1, 300, 1.5, "xyz", bin(2), nil, true, {}, []], "b": str32("hi")}
    const value = bytes(
      0x82,
      0xa1,
      0x61,
      0x9a,
      0x01,
      0xff,
      0xcd,
      0x01,
      0x2c,
      0xcb,
      0x3f,
      0xf8,
      0,
      0,
      0,
      0,
      0,
      0,
      0xa3,
      0x78,
      0x79,
      0x7a,
      0xc4,
      0x02,
      0x00,
      0x01,
      0xc0,
      0xc3,
      0x80,
      0x90,
      0xa1,
      0x62,
      0xdb,
      0,
      0,
      0,
      2,
      0x68,
      0x69,
    );
    const stream = new Uint8Array([...value, ...value]);
    const r = new FrameReader();
    const got: string[] = [];
    for (let i = 0; i < stream.length; i++) {
      r.push(stream.subarray(i, i + 1));
      const v = r.readValue();
      if (v !== undefined) got.push(hex(v)!);
      else expect(r.midFrame).toBe(true);
    }
    expect(got).toEqual([hex(value), hex(value)]);
    expect(r.buffered).toBe(0);
  });

  it('keeps its scan state across chunks instead of re-scanning the value from the start', () => {
    // [1, bin16(1020), ...] with a third element to come. Chunks this large are kept
    // by reference, so rewriting the already-scanned count byte would change the
    // outcome of a re-scan; a resumable scanner never looks at it again.
    const first = new Uint8Array(1025);
    first.set([0x93, 0x01, 0xc5, 0x03, 0xfc]);
    const r = new FrameReader();
    r.push(first);
    expect(r.readValue()).toBeUndefined();
    first[0] = 0x94; // a re-scan would now wait for two more elements
    r.push(bytes(0x05));
    const v = r.readValue();
    expect(v?.length).toBe(1026);
  });

  it('hands out values that later pushes never overwrite (small chunks are staged, not reused)', () => {
    const r = new FrameReader();
    const kept: Array<[Uint8Array, string]> = [];
    for (let i = 0; i < 3000; i++) {
      const v = bytes(0xa3, i & 0xff, (i >> 8) & 0xff, 0x21); // 4-byte fixstr, 12 KB in all
      r.push(v.subarray(0, 2));
      r.push(v.subarray(2));
      const out = r.readValue()!;
      kept.push([out, hex(v)!]);
    }
    for (const [out, want] of kept) expect(hex(out)).toBe(want);
  });

  it('coalesces a trickle of tiny chunks across staging slabs', () => {
    const value = str16(40_000, 0x7a);
    const r = new FrameReader();
    for (let i = 0; i < value.length; i += 3) {
      r.push(value.subarray(i, i + 3));
      if (i + 3 < value.length) expect(r.readValue()).toBeUndefined();
    }
    expect(r.buffered).toBe(value.length);
    expect(hex(r.readValue())).toBe(hex(value));
  });

  it('serves raw bytes (snapshot data) between messages, as copies the consumer owns', () => {
    const chunk = new Uint8Array(2000).fill(9);
    chunk.set([2, 0x80], 0); // type byte, empty map, then 1996 bytes of data...
    chunk.set([3, 0x80], 1998); // ...then the next message
    const r = new FrameReader();
    r.push(chunk);
    expect(r.readByte()).toBe(2);
    expect(hex(r.readValue())).toBe('80');
    const raw = r.readRaw(1000)!;
    expect(raw.length).toBe(1000);
    expect(raw.buffer).not.toBe(chunk.buffer);
    expect(r.readRaw(996)!.length).toBe(996);
    expect(r.readByte()).toBe(3);
    expect(hex(r.readValue())).toBe('80');
    expect(r.buffered).toBe(0);
    chunk.fill(0);
    expect(raw.every((b) => b === 9)).toBe(true);
  });

  it('copies raw bytes however much of their chunk they fill, without freshChunks', () => {
    const chunk = new Uint8Array(64 * 1024).fill(7);
    const r = new FrameReader();
    r.push(chunk);
    const raw = r.readRaw(chunk.length)!;
    expect(raw.length).toBe(chunk.length);
    expect(raw.buffer).not.toBe(chunk.buffer);
    chunk.fill(0); // the writer reuses its Buffer
    expect(raw.every((b) => b === 7)).toBe(true);
  });

  describe('with freshChunks (a net.Socket: memory nobody writes again)', () => {
    it('hands out raw (snapshot) bytes that fill most of their chunk as views of it, not copies', () => {
      const chunk = new Uint8Array(2000).fill(9);
      chunk.set([2, 0x80], 0);
      const r = new FrameReader(undefined, { freshChunks: true });
      r.push(chunk);
      expect(r.readByte()).toBe(2);
      expect(hex(r.readValue())).toBe('80');
      const raw = r.readRaw(1998)!;
      expect(raw.length).toBe(1998);
      expect(raw.buffer).toBe(chunk.buffer);
      expect(raw.byteOffset).toBe(2);
      expect(r.buffered).toBe(0);
    });

    it('copies a small piece of raw bytes out of a large chunk, so it pins no whole chunk', () => {
      const chunk = new Uint8Array(64 * 1024).fill(7);
      const r = new FrameReader(undefined, { freshChunks: true });
      r.push(chunk);
      const small = r.readRaw(100)!; // as a view it would keep all 64 KiB alive
      expect(small.length).toBe(100);
      expect(small.buffer).not.toBe(chunk.buffer);
      const rest = r.readRaw(chunk.length)!;
      expect(rest.length).toBe(chunk.length - 100);
      expect(rest.buffer).toBe(chunk.buffer);
      expect(rest.byteOffset).toBe(100);
      // A chunk that is a small window of a large ArrayBuffer counts the whole buffer.
      const backing = new Uint8Array(64 * 1024).fill(5);
      r.push(backing.subarray(1000, 3000));
      const windowed = r.readRaw(2000)!;
      expect(windowed.length).toBe(2000);
      expect(windowed.buffer).not.toBe(backing.buffer);
      expect(small.every((b) => b === 7) && windowed.every((b) => b === 5)).toBe(true);
    });

    it('views a value that fills at least half of its chunk, and copies a smaller one so it pins no whole chunk', () => {
      const big = str16(3000);
      const small = str16(10);
      const chunk = new Uint8Array(1 + big.length + 1 + small.length);
      chunk[0] = 3;
      chunk.set(big, 1);
      chunk[1 + big.length] = 3;
      chunk.set(small, 2 + big.length);
      const r = new FrameReader(undefined, { freshChunks: true });
      r.push(chunk);
      expect(r.readByte()).toBe(3);
      const v = r.readValue()!;
      expect(hex(v)).toBe(hex(big));
      expect(v.buffer).toBe(chunk.buffer);
      expect(r.readByte()).toBe(3);
      const w = r.readValue()!;
      expect(hex(w)).toBe(hex(small));
      expect(w.buffer).not.toBe(chunk.buffer);
      // A chunk that is a small window of a large ArrayBuffer counts the whole buffer.
      const backing = new Uint8Array(64 * 1024);
      backing.set(big, 100);
      const q = new FrameReader(undefined, { freshChunks: true });
      q.push(backing.subarray(100, 100 + big.length));
      expect(q.readValue()!.buffer).not.toBe(backing.buffer);
    });

    it('readValueParts() hands out a value that spans chunks as views of its pieces where it fills most of them', () => {
      const value = str16(5000);
      const first = value.slice(0, 2500);
      const second = value.slice(2500);
      const r = new FrameReader(undefined, { freshChunks: true });
      r.push(first);
      expect(r.readValueParts()).toBeUndefined();
      r.push(second);
      expectPieces(r.readValueParts(), value, [first, second]);
      expect(r.buffered).toBe(0);
    });

    it('readValueParts() views a piece that fills little of its chunk when the value fills half of all the chunks it touches', () => {
      // 20 KiB of the value at the end of a 64 KiB chunk, the other 30 KiB filling a chunk of its own:
      // 50 KiB of value behind 94 KiB of chunks, so both pieces are views.
      const value = str16(50 * 1024 - 3);
      const a = new Uint8Array(64 * 1024);
      const inA = 20 * 1024;
      a.set(value.subarray(0, inA), a.length - inA);
      const b = value.slice(inA);
      a.set(str16(a.length - inA - 3), 0); // the start of the chunk: a value of its own, read first
      const r = new FrameReader(undefined, { freshChunks: true });
      r.push(a);
      expect(r.readValue()!.length).toBe(a.length - inA);
      r.push(b);
      expectPieces(r.readValueParts(), value, [a, b]);
    });

    it('readValueParts() copies a piece that is a sliver of a large chunk when the value fills too little of them all', () => {
      const value = str16(5000);
      const big = new Uint8Array(64 * 1024);
      big.set(value.subarray(0, 10), big.length - 10);
      big.set(str16(big.length - 10 - 3), 0); // the start of the chunk: a value of its own, read first
      const rest = value.slice(10);
      const r = new FrameReader(undefined, { freshChunks: true });
      r.push(big);
      r.push(rest);
      expect(r.readValue()!.length).toBe(big.length - 10);
      const parts = r.readValueParts();
      expect((parts as Uint8Array[])[0]!.buffer).not.toBe(big.buffer); // 10 bytes must not pin 64 KiB
      big.fill(0xff);
      expectPieces(parts, value, [undefined, rest]);
    });

    it('still copies a value that spans chunks into one buffer, and takes small chunks into its own slab', () => {
      const value = str16(5000);
      const r = new FrameReader(undefined, { freshChunks: true });
      const first = value.slice(0, 2500);
      r.push(first);
      r.push(value.slice(2500));
      const v = r.readValue()!;
      expect(hex(v)).toBe(hex(value));
      expect(v.buffer).not.toBe(first.buffer);
      const tiny = str16(20);
      r.push(tiny);
      const t = r.readValue()!;
      expect(hex(t)).toBe(hex(tiny));
      expect(t.buffer).not.toBe(tiny.buffer);
      tiny.fill(0);
      expect(t[0]).toBe(0xda);
    });
  });

  it('readValueParts() without freshChunks gives a value that spans chunks as one copy, as readValue() does', () => {
    const value = str16(5000);
    const first = value.slice(0, 2500);
    const r = new FrameReader();
    r.push(first);
    r.push(value.slice(2500));
    const v = r.readValueParts();
    expect(v).toBeInstanceOf(Uint8Array);
    expect(hex(v as Uint8Array)).toBe(hex(value));
    expect((v as Uint8Array).buffer).not.toBe(first.buffer);
  });

  it('refuses readByte/readRaw in the middle of a value', () => {
    const r = new FrameReader();
    r.push(bytes(0x92, 0x01));
    expect(r.readValue()).toBeUndefined();
    expect(() => r.readByte()).toThrow();
    expect(() => r.readRaw(1)).toThrow();
  });

  describe('limits are enforced as soon as a header declares a size', () => {
    it('a str32 declaring 4 GiB fails right after its header, with only the header buffered', () => {
      const r = new FrameReader();
      r.push(bytes(0xdb, 0xff));
      expect(r.readValue()).toBeUndefined();
      r.push(bytes(0xff, 0xff, 0xff));
      expect(() => r.readValue()).toThrow(LimitExceededError);
      expect(r.buffered).toBe(5);
    });

    it('a value larger than maxFrameSize fails at the header', () => {
      const r = new FrameReader({ maxFrameSize: 100 });
      r.push(str16(98).subarray(0, 3));
      expect(() => r.readValue()).toThrow(LimitExceededError);
      const ok = new FrameReader({ maxFrameSize: 100 });
      ok.push(str16(97));
      expect(ok.readValue()?.length).toBe(100);
    });

    it('array32/map32 headers declaring billions of elements fail at once', () => {
      for (const header of [bytes(0xdd, 0xff, 0xff, 0xff, 0xff), bytes(0xdf, 0x10, 0, 0, 0), bytes(0xdc, 0xff, 0xff)]) {
        const r = new FrameReader();
        r.push(header);
        expect(() => r.readValue()).toThrow(LimitExceededError);
      }
    });

    it('more elements than maxEntries fail, as do more than the frame could hold', () => {
      const r = new FrameReader({ maxEntries: 10 });
      r.push(bytes(0xdc, 0x00, 0x0b));
      expect(() => r.readValue()).toThrow(LimitExceededError);
      const small = new FrameReader({ maxFrameSize: 10 });
      small.push(bytes(0x9f));
      expect(() => small.readValue()).toThrow(LimitExceededError);
    });

    it('nesting deeper than maxDepth fails without waiting for the rest', () => {
      const r = new FrameReader();
      r.push(new Uint8Array(32).fill(0x91));
      expect(r.readValue()).toBeUndefined();
      r.push(bytes(0x91));
      expect(() => r.readValue()).toThrow(LimitExceededError);
      const ok = new FrameReader({ maxDepth: 3 });
      ok.push(bytes(0x91, 0x91, 0x91, 0x90)); // the innermost array is empty: depth 3
      expect(ok.readValue()?.length).toBe(4);
    });
  });

  it('rejects bytes Go never sends: 0xc1 and extension types', () => {
    for (const b of [0xc1, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8]) {
      const r = new FrameReader();
      r.push(bytes(0x91, b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
      expect(() => r.readValue()).toThrow(ProtocolError);
    }
  });

  it('rejects nonsense limits', () => {
    expect(() => new FrameReader({ maxDepth: 0 })).toThrow(RangeError);
    expect(() => new FrameReader({ maxFrameSize: Number.NaN })).toThrow(RangeError);
  });
});
