/**
 * Test PKI made at test time with the openssl CLI, so no private key is ever
 * committed. The files live in a temp dir only while openssl runs: the PEM
 * text is read into memory and the dir removed before this returns.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  key: string;
  cert: string;
}

export interface TestPKI {
  /** The cluster CA every good certificate chains to. */
  ca: string;
  /** A peer certificate (CN peer-1, serial 1001) valid for 127.0.0.1 as server and client. */
  peer: KeyPair;
  /** Another certificate from the same CA (CN peer-2, serial 1002), for reload tests. */
  peer2: KeyPair;
  /** A second, unrelated CA. */
  otherCa: string;
  /** A certificate with the same SANs, signed by the other CA. */
  impostor: KeyPair;
  /** From the cluster CA, but with the serverAuth usage only (a common mistake: nodes also dial). */
  serverOnly: KeyPair;
}

const extensions = (usages: string): string =>
  [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${usages}`,
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '',
  ].join('\n');

/** True when the openssl CLI can be run. */
export async function haveOpenssl(): Promise<boolean> {
  try {
    await run('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

/** Generates the PKI; throws if openssl fails (check `haveOpenssl` first to skip instead). */
export async function makeTestPKI(): Promise<TestPKI> {
  const dir = await mkdtemp(join(tmpdir(), 'raft-transport-pki-'));
  const f = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    await writeFile(f('leaf.cnf'), extensions('serverAuth,clientAuth'));
    await writeFile(f('server-only.cnf'), extensions('serverAuth'));
    const makeCa = (name: string) =>
      run('openssl', [
        'req',
        '-x509',
        ...ec,
        '-keyout',
        f(`${name}.key`),
        '-out',
        f(`${name}.crt`),
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]);
    const makeLeaf = async (name: string, ca: string, serial: number, cnf = 'leaf.cnf'): Promise<KeyPair> => {
      await run('openssl', ['req', '-new', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`]);
      await run('openssl', [
        'x509',
        '-req',
        '-in',
        f(`${name}.csr`),
        '-CA',
        f(`${ca}.crt`),
        '-CAkey',
        f(`${ca}.key`),
        '-set_serial',
        String(serial),
        '-days',
        '2',
        '-out',
        f(`${name}.crt`),
        '-extfile',
        f(cnf),
      ]);
      return { key: await readFile(f(`${name}.key`), 'utf8'), cert: await readFile(f(`${name}.crt`), 'utf8') };
    };
    await Promise.all([makeCa('test-ca'), makeCa('other-ca')]);
    const [peer, peer2, impostor, serverOnly] = await Promise.all([
      makeLeaf('peer-1', 'test-ca', 1001),
      makeLeaf('peer-2', 'test-ca', 1002),
      makeLeaf('impostor', 'other-ca', 2001),
      makeLeaf('server-only', 'test-ca', 1003, 'server-only.cnf'),
    ]);
    return {
      ca: await readFile(f('test-ca.crt'), 'utf8'),
      otherCa: await readFile(f('other-ca.crt'), 'utf8'),
      peer,
      peer2,
      impostor,
      serverOnly,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
