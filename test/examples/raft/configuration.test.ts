import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Configuration, decodeConfiguration, encodeConfiguration } from '../../../examples/raft/configuration.ts';
import { goAvailable, goEnv } from '../../interop/go-peer.ts';

interface Vector {
  servers: Configuration['servers'] | null;
  hex: string;
}
const vectors = (JSON.parse(readFileSync(new URL('./goconfig/vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] })
  .vectors;

describe('LogConfiguration encoding', () => {
  it.each(vectors.map((v, i) => [i, v] as const))('matches hashicorp EncodeConfiguration byte for byte (vector %i)', (_i, v) => {
    const c: Configuration = { servers: v.servers ?? [] };
    expect(Buffer.from(encodeConfiguration(c)).toString('hex')).toBe(v.hex);
    expect(decodeConfiguration(Buffer.from(v.hex, 'hex'))).toEqual(c);
  });
});

const go = goAvailable();
describe.skipIf(!go.ok)(
  `LogConfiguration vectors against the installed hashicorp/raft${go.ok ? '' : ` (skipped: ${go.reason})`}`,
  () => {
    it('the Go program that made the vectors still prints them', () => {
      const dir = fileURLToPath(new URL('./goconfig/', import.meta.url));
      const out = execFileSync('go', ['run', 'main.go'], { cwd: dir, env: goEnv(), encoding: 'utf8', timeout: 120_000 });
      expect(out.trim().split('\n')).toEqual(vectors.map((v) => v.hex));
    }, 130_000);
  },
);
