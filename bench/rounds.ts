/**
 * Compares two trials fairly on a shared machine: they run alternately in
 * ABBA order (A B, B A, A B, ...), each round a share of the requests, and
 * each side's rounds are merged. Drifting load from other processes then
 * hits both sides alike instead of whichever happened to run second, which
 * matters more for a ratio than any single run's length.
 */
import { LatencyRecorder, runStats, type RunStats, type Trial } from './stats.ts';

export async function abba(
  rounds: number,
  warmup: number,
  n: number,
  payloadBytes: number,
  a: Trial,
  b: Trial,
): Promise<{ a: RunStats; b: RunStats }> {
  const per = Math.ceil(n / rounds);
  const sides = [
    { trial: a, lat: new LatencyRecorder(per * rounds), parts: [] as Array<{ n: number; seconds: number }> },
    { trial: b, lat: new LatencyRecorder(per * rounds), parts: [] as Array<{ n: number; seconds: number }> },
  ];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [sides[1]!, sides[0]!];
    for (const s of order) s.parts.push(await s.trial(warmup, per, s.lat));
  }
  return { a: runStats(sides[0]!.parts, payloadBytes, sides[0]!.lat), b: runStats(sides[1]!.parts, payloadBytes, sides[1]!.lat) };
}
