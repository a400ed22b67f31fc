/**
 * The raw baseline's wire protocol: no codec anywhere, just the cost of
 * moving bytes between two Node processes over TCP. A connection opens with a
 * 12-byte preamble that tells the server how to count what follows:
 *
 * - frames: pre-encoded AppendEntries frames, one per request of a workload's
 *   ring, sent in ring order and wrapping around. The preamble's size is the
 *   ring's length n, and n u32 frame lengths follow it (in the order the
 *   frames will come), so the server can count frames without decoding any;
 *   it answers one byte per complete frame, as many as it can in one write.
 * - bulk: a byte stream of a declared length; the server answers one byte
 *   when it has all of it (the ceiling for snapshot streaming).
 */

export const RawMode = { Frames: 1, Bulk: 2 } as const;
export type RawMode = (typeof RawMode)[keyof typeof RawMode];

export const PREAMBLE_BYTES = 12;

/** u32 mode | f64 size (frame length, or total bytes for bulk). */
export function encodePreamble(mode: RawMode, size: number): Buffer {
  const b = Buffer.alloc(PREAMBLE_BYTES);
  b.writeUInt32BE(mode, 0);
  b.writeDoubleBE(size, 4);
  return b;
}

/** The frames preamble: the header, then each frame's length in the order they will be sent. */
export function encodeFramesPreamble(lengths: readonly number[]): Buffer {
  const b = Buffer.alloc(PREAMBLE_BYTES + 4 * lengths.length);
  b.writeUInt32BE(RawMode.Frames, 0);
  b.writeDoubleBE(lengths.length, 4);
  for (let i = 0; i < lengths.length; i++) b.writeUInt32BE(lengths[i]!, PREAMBLE_BYTES + 4 * i);
  return b;
}

export function decodePreamble(b: Buffer): { mode: RawMode; size: number } {
  const mode = b.readUInt32BE(0);
  const size = b.readDoubleBE(4);
  if ((mode !== RawMode.Frames && mode !== RawMode.Bulk) || !(size > 0)) {
    throw new Error(`bad raw preamble: mode ${mode}, size ${size}`);
  }
  return { mode: mode as RawMode, size };
}
