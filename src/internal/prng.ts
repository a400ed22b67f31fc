/**
 * Small seeded pseudo-random numbers for fault injection. Not for security:
 * the point is that a failing test can be replayed from its seed, which
 * Math.random() can never do.
 */

/**
 * mulberry32: a 32-bit state generator, fast and good enough to decide which
 * dial to drop. Returns floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Derives an independent seed from a parent seed and labels, so that each
 * consumer (one layer's dials, one connection's latencies) gets its own
 * stream and activity elsewhere cannot shift its sequence.
 */
export function deriveSeed(seed: number, ...labels: Array<string | number>): number {
  // FNV-1a over the labels, folded into the seed, then murmur3's finaliser to spread the bits.
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (const label of labels) {
    const s = `${typeof label}:${label}|`;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** A seeded stream with the few draws fault injection needs, so callers never touch raw floats. */
export class SeededRandom {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next();
  }

  /** True with probability `p` (clamped to [0, 1]); always consumes one draw, so sequences stay aligned. */
  chance(p: number): boolean {
    const x = this.next();
    return x < Math.min(1, Math.max(0, p));
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    const lo = Math.ceil(Math.min(min, max));
    const hi = Math.floor(Math.max(min, max));
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** A float in [min, max). */
  between(min: number, max: number): number {
    const lo = Math.min(min, max);
    return lo + this.next() * (Math.max(min, max) - lo);
  }
}
