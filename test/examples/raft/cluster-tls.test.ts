/** The KV example over mutual TLS, in separate processes. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveOpenssl, makeTestPKI } from '../../helpers/certs.ts';
import { get, type Proc, put, startCluster, waitLeader } from './procs.ts';

const hasOpenssl = await haveOpenssl();
let dir = '';
let procs: Proc[] = [];

beforeAll(async () => {
  if (!hasOpenssl) return;
  const pki = await makeTestPKI();
  dir = await mkdtemp(join(tmpdir(), 'raft-kv-tls-'));
  await writeFile(join(dir, 'ca.pem'), pki.ca);
  await writeFile(join(dir, 'cert.pem'), pki.peer.cert);
  await writeFile(join(dir, 'key.pem'), pki.peer.key, { mode: 0o600 });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!hasOpenssl)('KV example over mutual TLS (skipped: no openssl CLI)', () => {
  it('elects, replicates and fails over with TLS between the nodes', async () => {
    const tls = ['--tls-ca', join(dir, 'ca.pem'), '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')];
    procs = await startCluster(3, () => tls);
    const leader = await waitLeader(procs);
    for (let i = 0; i < 20; i++) expect(await put(leader.http, `t${i}`, `${i}`)).toBe(true);
    await leader.stop();
    const rest = procs.filter((p) => p !== leader);
    const next = await waitLeader(rest, undefined, 10_000);
    expect(await get(next.http, 't19', true)).toBe('19');
    expect(await put(next.http, 'after', 'failover')).toBe(true);
  }, 60_000);
});
