/**
 * Knobs that select which Go peer the bytes we write look like, and the
 * limits that bound what we are willing to read.
 */

/**
 * Which hashicorp/raft + go-msgpack generation our encoder imitates. Both
 * generations decode what either writes (unknown keys are ignored), so this is
 * about byte-exactness with a given Go version, not about compatibility.
 */
export interface WireFormat {
  /**
   * 'latest' = hashicorp/raft 1.7 field set (RPCHeader ID/Addr flattened at
   * top level, Log.AppendedAt) with go-msgpack v2 integer rules (the Go `int`
   * and `int64` fields — ProtocolVersion, SnapshotVersion and
   * InstallSnapshotRequest.Size — are written signed when > 127: d1/d2/d3).
   * 'v1.1' = hashicorp/raft 1.1.2 field set (no ID, Addr, AppendedAt) with
   * go-msgpack 0.5.5 integer rules (non-negative ints written unsigned,
   * smallest width). Default 'latest' — safe towards 1.1.2 peers since both Go
   * versions ignore unknown keys.
   */
  fields?: 'latest' | 'v1.1';
  /**
   * Log.AppendedAt encoding: 'binary' (default; time.MarshalBinary as a
   * 15-byte raw string; zero time = af01 00.. ffff) or 'msgpack'
   * (MsgpackUseNewTimeFormat: msgpack timestamp body 4/8/12 bytes as raw
   * string, zero time = nil c0). Decoding always accepts both. Only matters
   * with fields 'latest' (1.1.2 has no AppendedAt). Go peers before raft 1.6
   * only understand 'binary'.
   */
  timeFormat?: 'binary' | 'msgpack';
}

/**
 * Named wire formats, one per hashicorp/raft generation, so a user can match
 * the cluster without knowing the encoder's knobs:
 *
 * - 'hashicorp-1.1': raft 1.1.x (go-msgpack 0.5.5): no RPCHeader ID/Addr, no
 *   AppendedAt, unsigned integers.
 * - 'hashicorp-1.5': raft 1.3 to 1.5: ID/Addr and AppendedAt, time as
 *   time.MarshalBinary (the only format these versions read).
 * - 'hashicorp-1.6+' (the default): raft 1.6 and later with Go's default
 *   NetworkTransportConfig (MsgpackUseNewTimeFormat false), binary time. Every
 *   generation decodes it: 1.1.x ignores the newer keys, 1.5 and 1.6+ read
 *   binary time (tested live in test/interop/versions.test.ts).
 * - 'hashicorp-1.6+-msgpack-time': raft 1.6+ peers configured with
 *   MsgpackUseNewTimeFormat true; AppendedAt as a msgpack timestamp body.
 *
 * 'hashicorp-1.5' and 'hashicorp-1.6+' write the same bytes except that Go
 * 1.5's go-msgpack 0.5.5 writes Go `int` fields above 127 unsigned where we
 * write them signed as go-msgpack v2 does; both decode either.
 */
export type WireFormatPreset = 'hashicorp-1.1' | 'hashicorp-1.5' | 'hashicorp-1.6+' | 'hashicorp-1.6+-msgpack-time';

/** What each preset means in terms of the encoder's knobs. */
export const WIRE_FORMAT_PRESETS: Readonly<Record<WireFormatPreset, Readonly<WireFormat>>> = Object.freeze({
  'hashicorp-1.1': Object.freeze({ fields: 'v1.1', timeFormat: 'binary' }),
  'hashicorp-1.5': Object.freeze({ fields: 'latest', timeFormat: 'binary' }),
  'hashicorp-1.6+': Object.freeze({ fields: 'latest', timeFormat: 'binary' }),
  'hashicorp-1.6+-msgpack-time': Object.freeze({ fields: 'latest', timeFormat: 'msgpack' }),
});

/** The default: 'hashicorp-1.6+', which every generation reads (see WireFormatPreset). */
export const DEFAULT_WIRE_FORMAT: WireFormatPreset = 'hashicorp-1.6+';

/** Turns a preset name (or an explicit WireFormat) into a WireFormat; unknown names throw RangeError. */
export function resolveWireFormat(format: WireFormat | WireFormatPreset | undefined): WireFormat {
  if (format === undefined) return WIRE_FORMAT_PRESETS[DEFAULT_WIRE_FORMAT];
  if (typeof format !== 'string') return format;
  const preset = Object.hasOwn(WIRE_FORMAT_PRESETS, format) ? WIRE_FORMAT_PRESETS[format] : undefined;
  if (preset === undefined) {
    throw new RangeError(
      `unknown wireFormat preset ${JSON.stringify(format)}; one of ${Object.keys(WIRE_FORMAT_PRESETS).join(', ')}`,
    );
  }
  return preset;
}

/**
 * Bounds on what a peer can make us buffer or allocate. Every limit is
 * checked as soon as a header declares a size, before the bytes arrive.
 */
export interface DecodeLimits {
  /** Largest single msgpack value (request or response map) in bytes. */
  maxFrameSize: number;
  /** Largest array (e.g. AppendEntries.Entries) or map, in elements. */
  maxEntries: number;
  /** Deepest container nesting; our messages need 3 (request → Entries → Log). */
  maxDepth: number;
}

/**
 * Encoded bytes one log entry adds to an AppendEntries request beyond its
 * Data and Extensions: the Log map's keys and fixed-width values. Measured
 * worst case (latest field set, 64-bit Index/Term, binary AppendedAt, both
 * byte fields present) is 92 bytes; this leaves room.
 */
const ENTRY_OVERHEAD = 128;
/** The request around the entries: header, term, leader, IDs and addresses, generously. */
const REQUEST_OVERHEAD = 64 * 1024;

/**
 * The maxFrameSize that accepts an AppendEntries of `entries` entries, each
 * with up to `entryBytes` bytes of Data plus Extensions: set a follower's
 * limit from its leader's MaxAppendEntries (Go: 64 by default, at most 1024)
 * and the largest command the application writes.
 */
export function maxFrameSizeFor(entries: number, entryBytes: number): number {
  return entries * (entryBytes + ENTRY_OVERHEAD) + REQUEST_OVERHEAD;
}

/**
 * Safe defaults.
 *
 * - maxFrameSize `maxFrameSizeFor(64, 1 MiB)` (64 MiB + 72 KiB): Go's default
 *   batch (MaxAppendEntries 64) of entries up to 1 MiB each fits, with
 *   the encoding's overhead counted, while one connection can't pin much
 *   more than that per frame. Bigger batches or commands need a bigger limit.
 * - maxEntries 16384: Go refuses `MaxAppendEntries > 1024` (config.go), so 16×
 *   that leaves room for non-Go leaders yet bounds the objects one frame can
 *   make us allocate (each element costs an object, not just its bytes).
 * - maxDepth 32: ten times what our messages need, so only garbage or an
 *   attack hits it.
 */
export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxFrameSize: maxFrameSizeFor(64, 1024 * 1024),
  maxEntries: 16_384,
  maxDepth: 32,
});

/** Fills in unset limits from the defaults and rejects nonsense early. */
export function resolveDecodeLimits(limits?: Partial<DecodeLimits>): DecodeLimits {
  const resolved: DecodeLimits = {
    maxFrameSize: limits?.maxFrameSize ?? DEFAULT_DECODE_LIMITS.maxFrameSize,
    maxEntries: limits?.maxEntries ?? DEFAULT_DECODE_LIMITS.maxEntries,
    maxDepth: limits?.maxDepth ?? DEFAULT_DECODE_LIMITS.maxDepth,
  };
  for (const key of ['maxFrameSize', 'maxEntries', 'maxDepth'] as const) {
    const v = resolved[key];
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RangeError(`DecodeLimits.${key} must be a positive integer, got ${String(v)}`);
    }
  }
  return resolved;
}
