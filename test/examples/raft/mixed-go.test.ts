/**
 * A smoke test of the contract a mixed cluster relies on: a Go hashicorp/raft
 * node (test/interop/raftnode, built against Debian's raft 1.1.2, which has no
 * pre-vote) joins a TypeScript cluster, reads our LogConfiguration entries,
 * takes over leadership, and a TypeScript follower redirects to it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { goAvailable, goEnv } from '../../interop/go-peer.ts';
import { FAST_FLAGS, get, Proc, post, put, startCluster, until, waitLeader } from './procs.ts';

const go = goAvailable();
let procs: Proc[] = [];
let dir = '';
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!go.ok)(`KV example with a Go node in the cluster${go.ok ? '' : ` (skipped: ${go.reason})`}`, () => {
  it('a Go node joins, replicates, becomes leader by transfer, TS followers redirect to it, and a TS+Go pair re-elects after a crash', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftnode-'));
    const bin = join(dir, 'raftnode');
    execFileSync('go', ['build', '-o', bin, '.'], {
      cwd: fileURLToPath(new URL('../../interop/raftnode/', import.meta.url)),
      env: goEnv(),
      timeout: 120_000,
    });
    procs = await startCluster(2);
    const leader = await waitLeader(procs);
    const g = await new Proc('g1', [...FAST_FLAGS, '--join', leader.http], bin).start();
    procs.push(g);
    await waitLeader(procs, 3);
    expect(await put(leader.http, 'hello', 'world')).toBe(true);
    await until('the Go node to apply', async () => (await get(g.http, 'hello')) === 'world');
    const gs = (await g.status())!;
    expect(gs.configuration.map((s) => s.id).sort()).toEqual(['g1', 'n1', 'n2']);
    await until('_http/g1 everywhere', async () => (await get(leader.http, '_http/g1')) === g.http);
    expect(await post(leader.http, '/transfer', { id: 'g1' })).toBe(204);
    expect((await waitLeader(procs)).id).toBe('g1');
    const follower = procs.find((p) => p !== g)!;
    expect(await put(follower.http, 'after', 'transfer')).toBe(true); // redirected to the Go leader
    expect(await get(follower.http, 'after', true)).toBe('transfer');
    // Back to a TypeScript leader (the Go node's own LeadershipTransferToServer), then kill it: the
    // survivors, one of each language, elect a leader; a TS candidate's pre-vote to a
    // pre-1.7 Go node fails at the connection and counts as granted, as in hashicorp 1.7.
    const n1 = procs.find((p) => p.id === 'n1')!;
    expect(await post(g.http, '/transfer', { id: 'n1' })).toBe(204);
    expect((await waitLeader(procs)).id).toBe('n1');
    await n1.kill9();
    const survivors = procs.filter((p) => p !== n1);
    const next = await waitLeader(survivors);
    console.log(`after the crash: ${next.id} leads`);
    expect(await put(next.http, 'survivors', 'ok')).toBe(true);
    for (const p of survivors) await until(`${p.id} to apply`, async () => (await get(p.http, 'survivors')) === 'ok');
  }, 90_000);
});
