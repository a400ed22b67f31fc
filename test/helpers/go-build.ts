/**
 * Builds a Go program in GOPATH mode against one of the three hashicorp/raft
 * generations the interop tests cover: Debian's 1.1.2, and the unmodified
 * 1.5.0 and 1.7.3 trees under ../shared/upstream-go (see its README).
 * Binaries are cached in os.tmpdir() by a hash of the sources, the raft
 * version and `go version`, so repeated runs (and parallel test files) reuse
 * one build. A program picks its per-version code with the build tags
 * `raft15` / `raft17` (1.1.2 builds with neither).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { runProcess } from './run-process.ts';

export const GO_VERSIONS = ['1.1.2', '1.5.0', '1.7.3'] as const;
export type GoRaftVersion = (typeof GO_VERSIONS)[number];

export const DEBIAN_GOPATH = '/usr/share/gocode';
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** ../shared/upstream-go, relative to the repository root. */
export const UPSTREAM_GO = path.resolve(REPO_ROOT, '../shared/upstream-go');

/** GOPATH and build tags for one raft version. */
export function goTreeFor(version: GoRaftVersion): { gopath: string; tags: string[] } {
  switch (version) {
    case '1.1.2':
      return { gopath: DEBIAN_GOPATH, tags: [] };
    case '1.5.0':
      return { gopath: `${path.join(UPSTREAM_GO, 'v1.5.0')}:${DEBIAN_GOPATH}`, tags: ['raft15'] };
    case '1.7.3':
      // hashicorpmetrics: go-metrics/compat then uses hashicorp/go-metrics from the 1.7.3 tree.
      return { gopath: `${path.join(UPSTREAM_GO, 'v1.7.3')}:${DEBIAN_GOPATH}`, tags: ['raft17', 'hashicorpmetrics'] };
  }
}

/** Environment for the go tool: GOPATH mode, offline, a writable cache. */
export function goEnv(version: GoRaftVersion = '1.1.2'): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH: goTreeFor(version).gopath,
    GOCACHE: path.join(os.tmpdir(), 'raft-transport-go-cache'),
    GOFLAGS: '',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
  };
}

let availability: { ok: boolean; reason?: string } | undefined;

/**
 * Whether Go programs can be built here for every version: `go` on PATH,
 * Debian's hashicorp/raft and the upstream trees. With
 * RAFT_TRANSPORT_REQUIRE_GO=1 (CI) a missing piece throws instead of skipping.
 */
export function goAvailable(): { ok: boolean; reason?: string } {
  if (availability) return availability;
  const v = spawnSync('go', ['version'], { encoding: 'utf8', env: goEnv(), timeout: 30_000 });
  const raftFile = (root: string) => path.join(root, 'src/github.com/hashicorp/raft/net_transport.go');
  if (v.error || v.status !== 0) {
    availability = { ok: false, reason: `Go toolchain not usable ('go version': ${v.error?.message ?? v.stderr.trim()})` };
  } else if (!fs.existsSync(raftFile(DEBIAN_GOPATH))) {
    availability = {
      ok: false,
      reason: `hashicorp/raft sources missing at ${DEBIAN_GOPATH} (apt-get install golang-github-hashicorp-raft-dev)`,
    };
  } else if (
    !fs.existsSync(raftFile(path.join(UPSTREAM_GO, 'v1.5.0'))) ||
    !fs.existsSync(raftFile(path.join(UPSTREAM_GO, 'v1.7.3')))
  ) {
    availability = { ok: false, reason: `upstream hashicorp/raft trees missing under ${UPSTREAM_GO}` };
  } else {
    availability = { ok: true };
  }
  if (!availability.ok && process.env.RAFT_TRANSPORT_REQUIRE_GO) {
    throw new Error(`RAFT_TRANSPORT_REQUIRE_GO is set but Go interop programs can't be built: ${availability.reason}`);
  }
  return availability;
}

/** The reason Go tests skip here, or undefined when they can run (throws under RAFT_TRANSPORT_REQUIRE_GO). */
export function goSkipReason(): string | undefined {
  const a = goAvailable();
  return a.ok ? undefined : a.reason;
}

const builds = new Map<string, Promise<string>>();

/**
 * Builds the Go program in `programDir` against raft `version` (once per
 * process and per source hash) and resolves with the binary's path.
 */
export function buildGoProgram(programDir: string, version: GoRaftVersion): Promise<string> {
  const key = `${path.resolve(programDir)}\0${version}`;
  let p = builds.get(key);
  if (!p) {
    p = doBuild(path.resolve(programDir), version);
    builds.set(key, p);
    p.catch(() => builds.delete(key));
  }
  return p;
}

async function doBuild(dir: string, version: GoRaftVersion): Promise<string> {
  const avail = goAvailable();
  if (!avail.ok) throw new Error(`cannot build ${dir}: ${avail.reason}`);
  const { tags } = goTreeFor(version);
  const hash = createHash('sha256');
  hash.update(spawnSync('go', ['version'], { encoding: 'utf8', env: goEnv(version) }).stdout);
  hash.update(`\0${version}\0${tags.join(',')}\0`);
  for (const name of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.go'))
    .sort()) {
    hash.update(`\0${name}\0`);
    hash.update(fs.readFileSync(path.join(dir, name)));
  }
  const base = path.basename(dir);
  const out = path.join(os.tmpdir(), `raft-transport-go-${base}-${version}-${hash.digest('hex').slice(0, 16)}`);
  const bin = path.join(out, base);
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(out, { recursive: true });
  // Build beside the target and rename, so parallel test files never see half a binary.
  const tmp = `${bin}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const args = ['build', '-o', tmp];
  if (tags.length) args.push('-tags', tags.join(' '));
  args.push('.');
  const res = await runProcess('go', args, { cwd: dir, env: goEnv(version), timeoutMs: 300_000 });
  if (res.code !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new Error(
      `go build of ${dir} for raft ${version} failed (exit ${res.code}${res.timedOut ? ', timed out' : ''}):\n${res.stderr}`,
    );
  }
  fs.renameSync(tmp, bin);
  return bin;
}
