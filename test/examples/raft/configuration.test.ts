import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Configuration, decodeConfiguration, encodeConfiguration } from '../../../examples/raft/configuration.ts';

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
