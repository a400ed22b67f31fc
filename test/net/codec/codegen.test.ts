/**
 * The unrolled struct writers are generated from src/net/codec/schema.ts and
 * committed; this fails when the committed output is not what the schema
 * generates (someone edited the schema or the generator without running
 * `npm run codegen`, or edited the generated file by hand).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generate } from '../../../scripts/codegen.ts';
import { LOG_SCHEMA, REQUEST_SCHEMAS, RESPONSE_SCHEMAS } from '../../../src/net/codec/schema.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('codec code generation', () => {
  const files = [...generate()];

  it('generates at least the struct writers', () => {
    expect(files.map(([f]) => f)).toContain('src/net/codec/gen/encode-structs.ts');
  });

  for (const [file, text] of files) {
    it(`${file} is what the schema generates (run \`npm run codegen\` if not)`, () => {
      expect(readFileSync(path.join(repoRoot, file), 'utf8')).toBe(text);
    });
  }

  it('the generated writers cover every message of the schema', () => {
    const text = new Map(files).get('src/net/codec/gen/encode-structs.ts')!;
    for (const s of [LOG_SCHEMA, ...REQUEST_SCHEMAS, ...RESPONSE_SCHEMAS]) {
      expect(text).toContain(`export function put${s.name}(`);
      for (const f of s.fields) expect(text).toContain(`K_${f.go})`);
    }
  });

  it('every schema lists its keys in the byte order Go writes them', () => {
    for (const s of [LOG_SCHEMA, ...REQUEST_SCHEMAS, ...RESPONSE_SCHEMAS]) {
      const keys = s.fields.map((f) => Buffer.from(f.go));
      const sorted = [...keys].sort(Buffer.compare);
      expect(keys.map(String), s.name).toEqual(sorted.map(String));
    }
  });
});
