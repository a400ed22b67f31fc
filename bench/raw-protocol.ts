/**
 * The raw baseline's wire protocol: no codec anywhere, just the cost of
 * moving bytes between two Node processes over TCP. A connection opens with a
 * 12-byte preamble that tells the server how to count what follows:
 *
 * - frames: fixed-size frames (one pre-encoded AppendEntries, sent over and
 *   over); the server answers one byte per complete frame, as many as it can
 *   in a single write.
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

export function decodePreamble(b: Buffer): { mode: RawMode; size: number } {
  const mode = b.readUInt32BE(0);
  const size = b.readDoubleBE(4);
  if ((mode !== RawMode.Frames && mode !== RawMode.Bulk) || !(size > 0)) {
    throw new Error(`bad raw preamble: mode ${mode}, size ${size}`);
  }
  return { mode: mode as RawMode, size };
}
