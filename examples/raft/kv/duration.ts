/** Go's time.ParseDuration for the forms the Go node's flags take (e.g. 500ms, 1s, 2m, 1m30s). */
export function parseDuration(s: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let m: RegExpExecArray | null = re.exec(s);
  let consumed = 0;
  while (m !== null) {
    total += Number(m[1]) * units[m[2]!]!;
    consumed = re.lastIndex;
    m = re.exec(s);
  }
  if (consumed !== s.length || s.length === 0) {
    if (/^\d+$/.test(s)) return Number(s);
    throw new Error(`bad duration ${JSON.stringify(s)}`);
  }
  return total;
}
