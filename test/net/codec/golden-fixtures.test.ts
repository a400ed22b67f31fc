/**
 * The golden tests read the project's copy of Go's recorded bytes
 * (test/fixtures/wire), so they run in any clone. This checks the copy
 * against the recording in ../shared/wire wherever that exists, and insists
 * on it in CI, so the two cannot drift apart unnoticed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = path.join(repoRoot, 'test/fixtures/wire');
const SHARED = path.resolve(repoRoot, '../shared/wire');
const inCI = process.env.CI === 'true';
const haveShared = existsSync(SHARED);

const jsonIn = (dir: string): string[] =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort();

if (!haveShared && !inCI) {
  console.warn(`golden-fixtures: skipped the drift check, ${SHARED} not found (the fixtures themselves are still tested)`);
}

describe('golden wire fixtures', () => {
  it('are in the repository', () => {
    expect(jsonIn(FIXTURES)).toEqual(['hashicorp-raft-1.1.2-vectors.json', 'hashicorp-raft-latest-vectors.json']);
  });

  // Never skipped in CI: there, a missing ../shared is itself a failure.
  it.skipIf(!haveShared && !inCI)('match ../shared/wire byte for byte', () => {
    expect(haveShared, `${SHARED} must exist when CI=true`).toBe(true);
    const shared = jsonIn(SHARED);
    expect(jsonIn(FIXTURES)).toEqual(shared);
    for (const name of shared) {
      const ours = readFileSync(path.join(FIXTURES, name));
      const theirs = readFileSync(path.join(SHARED, name));
      expect(ours.equals(theirs), `test/fixtures/wire/${name} differs from ${SHARED}/${name}; copy it again`).toBe(true);
    }
  });
});
