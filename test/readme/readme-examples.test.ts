import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveOpenssl } from '../helpers/certs.ts';
import { runProcess } from '../helpers/run-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC_INDEX = path.join(ROOT, 'src', 'index.ts');
// tsx's loader as a URL, so examples can run from a temp dir outside the repo.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

interface Example {
  /** 1-based line of the opening fence. */
  line: number;
  tags: string[];
  code: string;
  file: string;
}

/** The fenced blocks of a Markdown text in one of `languages`, with their info-string tags. */
function extractBlocks(markdown: string, languages = 'ts|typescript'): Array<{ line: number; tags: string[]; code: string }> {
  const blocks: Array<{ line: number; tags: string[]; code: string }> = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = new RegExp(`^\`\`\`(${languages})\\b(.*)$`).exec(lines[i] as string);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
    blocks.push({ line: start + 1, tags: (open[2] ?? '').trim().split(/\s+/).filter(Boolean), code: body.join('\n') });
  }
  return blocks;
}

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const blocks = extractBlocks(readme);
// The certificate recipe, run as written: the TLS example uses what it makes.
const tlsRecipes = extractBlocks(readme, 'sh').filter((b) => b.tags.includes('tls-recipe'));
const examples: Example[] = blocks
  .filter((b) => b.tags.includes('example'))
  .map((b) => ({ ...b, file: `example-line-${b.line}.ts` }));

let dir = '';
let tlsSkipReason: string | undefined;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-transport-readme-'));
  // ESM, so examples can use top-level await.
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(ROOT, 'tsconfig.json'),
      compilerOptions: {
        noEmit: true,
        rewriteRelativeImportExtensions: false,
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      },
      include: ['*.ts'],
    }),
  );
  for (const ex of examples) {
    const code = ex.code.replace(/(['"])raft-transport\1/g, JSON.stringify(SRC_INDEX));
    fs.writeFileSync(path.join(dir, ex.file), `${code}\n`);
  }
  if (examples.some((ex) => ex.tags.includes('tls'))) {
    if (!(await haveOpenssl())) {
      tlsSkipReason = 'openssl is not installed';
      console.warn(`skipping the README's TLS example: ${tlsSkipReason}`);
    } else {
      expect(tlsRecipes).toHaveLength(1);
      const recipe = tlsRecipes[0] as { line: number; code: string };
      const r = await runProcess('bash', ['-euo', 'pipefail', '-c', recipe.code], { cwd: dir, timeoutMs: 60_000 });
      expect(r.code, `README.md:${recipe.line} (the certificate recipe) failed:\n${r.stderr}`).toBe(0);
    }
  }
});

afterAll(() => {
  if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
});

describe('README examples', () => {
  it('tags every ts block as an example, so none goes untested', () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
    expect(blocks.filter((b) => !b.tags.includes('example')).map((b) => `README.md:${b.line}`)).toEqual([]);
  });

  it('type-check', async () => {
    const r = await runProcess(process.execPath, [TSC, '-p', path.join(dir, 'tsconfig.json')], { cwd: dir, timeoutMs: 120_000 });
    // Only the examples' own errors: src is checked by `tsc --noEmit -p .`.
    const errors = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('example-line-'))
      .map((l) =>
        l.replace(
          /^example-line-(\d+)\.ts\((\d+),(\d+)\)/,
          (_, block: string, line: string, col: string) => `README.md:${Number(block) + Number(line)}:${col}`,
        ),
      );
    expect(errors).toEqual([]);
  }, 120_000);

  for (const ex of examples) {
    const needsTls = ex.tags.includes('tls');
    it(`README.md:${ex.line} runs${needsTls ? ' (TLS)' : ''}`, async (ctx) => {
      if (needsTls && tlsSkipReason !== undefined) ctx.skip();
      const r = await runProcess(process.execPath, ['--import', TSX, ex.file], { cwd: dir, timeoutMs: 30_000 });
      const report = `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
      expect(r.code, report).toBe(0);
      for (const m of ex.code.matchAll(/\/\/ → (.+)$/gm)) expect(r.stdout, report).toContain((m[1] as string).trim());
    }, 40_000);
  }
});
