/**
 * A bound on one wait in a test: resolves or rejects as `p` does, or rejects
 * with an error naming what never happened once `ms` pass. A test whose
 * awaited event never comes then fails at once, saying which step it was,
 * instead of hanging until vitest's timeout. The bound is generous, far
 * above what the step needs: it is not a performance assertion.
 */
export async function within<T>(what: string, p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}
