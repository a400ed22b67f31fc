/**
 * `npm run docs` (TypeDoc over src/index.ts, typedoc.json) builds, and the
 * main entry points get pages. Output goes to a temp dir, not docs/api.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TYPEDOC = path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-transport-docs-'));

afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

describe('API documentation', () => {
  it('builds with TypeDoc and covers the public entry points', async () => {
    const r = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [TYPEDOC, '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, output }));
    });
    expect(r.code, r.output).toBe(0);
    // TypeDoc prints a "Found N errors and M warnings" summary only when there are some.
    expect(r.output).not.toMatch(/\[error\]|Found [1-9]\d* error/);
    expect(r.output).not.toMatch(/\[warning\]/);
    for (const page of [
      'index.html',
      'interfaces/Transport.html',
      'interfaces/StreamLayer.html',
      'interfaces/NetworkTransportOptions.html',
      'classes/NetworkTransport.html',
      'classes/InmemTransport.html',
      'classes/TransportError.html',
      'functions/newTCPTransport.html',
    ]) {
      expect(fs.existsSync(path.join(out, page)), page).toBe(true);
    }
    // The README is the landing page, so the tour and the reference live together.
    expect(fs.readFileSync(path.join(out, 'index.html'), 'utf8')).toContain('Quick start');
  }, 120_000);
});
