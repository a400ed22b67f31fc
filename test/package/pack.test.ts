import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTCPTransport, type NetworkTransport, RpcType } from '../../src/index.ts';
import { type RunResult, runProcess } from '../helpers/run-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const show = (r: RunResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** Exercises the installed package from plain Node: TCP and in-memory transports, errors. */
const CONSUMER_MJS = `
import assert from 'node:assert/strict';
import { newTCPTransport, InmemTransport, RpcType, ErrorCode, isTransportError, TransportError } from 'raft-transport';

const results = {};

// Two TCP transports exchanging a RequestVote.
const server = await newTCPTransport('127.0.0.1:0');
const serving = (async () => {
  for await (const rpc of server.consumer()) {
    if (rpc.type === RpcType.RequestVote) rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: rpc.command.term + 1, granted: true });
    else rpc.respond(null, 'unexpected');
  }
})();
const client = await newTCPTransport('127.0.0.1:0');
const vote = await client.requestVote('server', server.localAddr(), {
  rpcHeader: { protocolVersion: 3 }, term: 4, candidate: client.encodePeer('client', client.localAddr()),
  lastLogIndex: 1, lastLogTerm: 1, leadershipTransfer: false,
});
results.tcp = { term: vote.term, granted: vote.granted, sent: client.stats().peers[0].rpcsSucceeded };
await client.close();
await server.close();
await serving;

// An in-memory pair, and a partition.
const a = new InmemTransport('a');
const b = new InmemTransport('b');
a.connect('b', b);
const answering = (async () => {
  for await (const rpc of b.consumer()) rpc.respond({ rpcHeader: { protocolVersion: 3 } });
})();
await a.timeoutNow('b', 'b', { rpcHeader: { protocolVersion: 3 } });
a.disconnect('b');
const err = await a.timeoutNow('b', 'b', { rpcHeader: { protocolVersion: 3 } }).catch((e) => e);
assert.ok(err instanceof TransportError);
results.inmem = { afterPartition: isTransportError(err, ErrorCode.PeerUnreachable) ? err.code : String(err) };
await a.close();
await b.close();
await answering;

console.log(JSON.stringify(results));
`;

/** A typed consumer: must compile against the shipped declarations under strict NodeNext. */
const CONSUMER_TS = `
import {
  newTCPTransport, InmemTransport, RpcType, ErrorCode, isTransportError, NetworkTransport,
  type Transport, type RPC, type RequestVoteResponse, type NetworkTransportOptions, type TransportStats,
} from 'raft-transport';

const options: NetworkTransportOptions = { timeout: 500, maxPool: 2, limits: { maxEntries: 64 } };

export async function vote(t: Transport, target: string): Promise<boolean> {
  const resp: RequestVoteResponse = await t.requestVote('id', target, {
    rpcHeader: { protocolVersion: 3 }, term: 1, candidate: null, lastLogIndex: 0, lastLogTerm: 0, leadershipTransfer: false,
  }, { timeout: 100 });
  return resp.granted;
}

export function answer(rpc: RPC): void {
  switch (rpc.type) {
    case RpcType.AppendEntries:
      rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: rpc.command.term, lastLog: 0, success: false, noRetryBackoff: false });
      break;
    case RpcType.InstallSnapshot:
      rpc.reader.resume();
      rpc.respond(null, 'no snapshots here');
      break;
    default:
      rpc.respond(null, 'unsupported');
  }
}

export async function main(): Promise<TransportStats> {
  const tcp: NetworkTransport = await newTCPTransport('127.0.0.1:0', options);
  const mem: Transport = new InmemTransport();
  // The types are real, not any: a malformed request must not compile.
  // @ts-expect-error term is required and must be a number
  await mem.requestVote('x', 'y', { rpcHeader: { protocolVersion: 3 }, term: 'one' });
  try {
    await vote(mem, tcp.localAddr());
  } catch (err) {
    if (!isTransportError(err, ErrorCode.PeerUnreachable)) throw err;
  }
  await mem.close();
  const stats = tcp.stats();
  await tcp.close();
  return stats;
}
`;

let work = '';
let tarball = '';
let packed: { files: Array<{ path: string }>; filename: string } | undefined;
let project = '';

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-transport-pack-'));
  const pack = await run(NPM, ['pack', '--pack-destination', work, '--json'], ROOT);
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${show(pack)}`);
  packed = (JSON.parse(pack.stdout) as Array<{ files: Array<{ path: string }>; filename: string }>)[0];
  tarball = path.join(work, packed?.filename ?? '');

  project = path.join(work, 'consumer');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const install = await run(NPM, ['install', tarball, '--offline', '--no-audit', '--no-fund'], project);
  if (install.code !== 0) throw new Error(`npm install of the tarball failed:\n${show(install)}`);
}, 180_000);

afterAll(() => {
  if (work !== '') fs.rmSync(work, { recursive: true, force: true });
});

describe('npm package', () => {
  it('ships the build, types, bin, README, LICENSE and the files the README links to, and nothing else', () => {
    const files = (packed?.files ?? []).map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js'])
      expect(files).toContain(f);
    expect(files).toContain('examples/prometheus.ts');
    expect(files).toContain('docs/bench-sweep.svg');
    const stray = files.filter(
      (f) => !/^(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts)|examples\/.+\.ts|docs\/[^/]+\.svg)$/.test(f),
    );
    expect(stray).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
  });

  it('ships a README whose links work on the registry: no relative link, every file link into this version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const shippedReadme = fs.readFileSync(path.join(project, 'node_modules', 'raft-transport', 'README.md'), 'utf8');
    const repoReadme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    // Packing rewrote a copy: the repository's README is back as it was, and no backup is left behind.
    expect(repoReadme).toContain('](examples/prometheus.ts)');
    expect(fs.existsSync(path.join(ROOT, '.README.md.repo'))).toBe(false);
    const links = [...shippedReadme.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '');
    expect(links.length).toBeGreaterThan(3);
    const dangling = links.filter((l) => !/^(https?:|mailto:|#)/.test(l));
    expect(dangling).toEqual([]);
    // Each link into the package names a file of this very tarball.
    const files = new Set((packed?.files ?? []).map((f) => f.path));
    const prefix = `https://unpkg.com/raft-transport@${pkg.version}/`;
    const intoPackage = links.filter((l) => l.startsWith('https://unpkg.com/'));
    expect(intoPackage).toContain(`${prefix}examples/prometheus.ts`);
    for (const l of intoPackage) {
      expect(l.startsWith(prefix), l).toBe(true);
      expect(files.has(l.slice(prefix.length).split('#')[0] ?? ''), l).toBe(true);
    }
    // Anchors point at headings the README has (GitHub's slugs).
    const slugs = new Set(
      [...shippedReadme.matchAll(/^#+ (.+)$/gm)].map((m) =>
        (m[1] ?? '')
          .toLowerCase()
          .replace(/[^\p{L}\p{N} _-]/gu, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const l of links.filter((x) => x.startsWith('#'))) expect(slugs.has(l.slice(1)), l).toBe(true);
    // Instructions that need a clone are replaced by what the package holds.
    expect(shippedReadme).not.toContain('npm run docs');
    expect(shippedReadme).not.toMatch(/<!-- (repo|registry)-only/);
    expect(repoReadme).toContain('npm run docs');
  });

  it('keeps internals out of the shipped declarations', () => {
    const dist = path.join(project, 'node_modules', 'raft-transport', 'dist');
    const transport = fs.readFileSync(path.join(dist, 'net', 'network-transport.d.ts'), 'utf8');
    const cls = transport.slice(transport.indexOf('export declare class NetworkTransport'));
    expect(cls).toMatch(/^export declare class NetworkTransport implements Transport \{/);
    for (const member of ['dispatch', 'release', 'statsFor', 'heartbeatHandler', 'connectionClosed', 'inbound', 'logger']) {
      expect(cls, member).not.toMatch(new RegExp(`^\\s+(readonly\\s+)?${member}\\b[(:]`, 'm'));
    }
    // Whatever is marked @internal anywhere is stripped (tsconfig.build.json: stripInternal).
    const internal: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const f = path.join(dir, e.name);
        if (e.isDirectory()) walk(f);
        else if (f.endsWith('.d.ts') && fs.readFileSync(f, 'utf8').includes('@internal')) internal.push(f);
      }
    };
    walk(dist);
    expect(internal).toEqual([]);
  });

  it('installs with nothing but itself (no runtime dependencies)', () => {
    const installed = fs.readdirSync(path.join(project, 'node_modules')).filter((n) => !n.startsWith('.'));
    expect(installed).toEqual(['raft-transport']);
    const pkg = JSON.parse(
      fs.readFileSync(path.join(project, 'node_modules', 'raft-transport', 'package.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.type).toBe('module');
  });

  it('works from plain JavaScript: TCP and in-memory transports', async () => {
    fs.writeFileSync(path.join(project, 'consumer.mjs'), CONSUMER_MJS);
    const r = await run(process.execPath, ['consumer.mjs'], project, 30_000);
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({
      tcp: { term: 5, granted: true, sent: 1 },
      inmem: { afterPartition: 'ERR_PEER_UNREACHABLE' },
    });
  });

  it('loads from CommonJS with require() (Node 20.19+ requires ES modules without a flag)', async () => {
    fs.writeFileSync(
      path.join(project, 'consumer.cjs'),
      "const rt = require('raft-transport');\nconsole.log(typeof rt.newTCPTransport, typeof rt.InmemTransport);\n",
    );
    const r = await run(process.execPath, ['consumer.cjs'], project, 30_000);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.trim()).toBe('function function');
  });

  it('type-checks a strict NodeNext TypeScript consumer against the shipped .d.ts', async () => {
    fs.writeFileSync(path.join(project, 'consumer.ts'), CONSUMER_TS);
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          // Check the package's declarations too, not just the consumer.
          skipLibCheck: false,
          // A consumer brings its own @types/node; borrow the repo's rather than install one.
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    const r = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], project, 120_000);
    expect(r.code, show(r)).toBe(0);
  }, 120_000);

  describe('the raft-transport bin', () => {
    const bin = (): string => path.join(project, 'node_modules', '.bin', 'raft-transport');
    let server: NetworkTransport;
    let serving: Promise<void>;

    beforeAll(async () => {
      server = await newTCPTransport('127.0.0.1:0');
      serving = (async () => {
        for await (const rpc of server.consumer()) {
          if (rpc.type === RpcType.AppendEntries)
            rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: 3, lastLog: 9, success: false, noRetryBackoff: false });
          else rpc.respond(null, 'unexpected');
        }
      })();
    });

    afterAll(async () => {
      await server?.close();
      await serving;
    });

    it('is executable and prints its help', async () => {
      const r = await run(bin(), ['--help'], project, 30_000);
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toContain('Usage: raft-transport <command>');
    });

    it('probes a live transport', async () => {
      const r = await run(bin(), ['probe', server.localAddr(), '--count', '2', '--interval', '0', '--json'], project, 30_000);
      expect(r.code, show(r)).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ sent: 2, ok: 2, failed: 0, peerTerm: 3, peerLastLog: 9 });
    });

    it('explains that the benchmark is not in the package', async () => {
      const r = await run(bin(), ['bench'], project, 30_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('the benchmark ships with the raft-transport repository, not the npm package');
    });
  });
});

/** Not the npm_* variables of an enclosing `npm test`: they would configure the inner npm. */
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

function run(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<RunResult> {
  return runProcess(cmd, args, { cwd, env: childEnv, timeoutMs });
}
