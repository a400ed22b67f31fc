import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcType } from '../../../src/commands.ts';
import { ErrorCode, isTransportError } from '../../../src/errors.ts';
import { MessageWriter } from '../../../src/net/codec/encoder.ts';
import { TLSStreamLayer, type TLSStreamLayerOptions } from '../../../src/net/layers/tls-stream-layer.ts';
import { newTLSTransport, type TLSTransport, type TLSTransportOptions } from '../../../src/net/tls-transport.ts';
import type { RPC } from '../../../src/transport.ts';
import { runTransportConformance } from '../../conformance/transport-suite.ts';
import { haveOpenssl, type KeyPair, makeTestPKI, type TestPKI } from '../../helpers/certs.ts';
import { appendReq, echoResponder, serve } from '../../helpers/fixtures.ts';
import { closedPort, expectCode, rejection } from '../../helpers/expect-errors.ts';

const pki: TestPKI | undefined = (await haveOpenssl()) ? await makeTestPKI() : undefined;

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

interface RawOutcome {
  /** The client believed the handshake complete. */
  secured: boolean;
  error: Error | undefined;
  /** Bytes the server sent us (it must never answer a refused client). */
  received: number;
}

/**
 * Connects with bare node:tls, sends a well-formed AppendEntries as soon as
 * the client thinks the handshake is done, and reports how the server ended it.
 */
function rawAttempt(addr: string, options: tls.ConnectionOptions, term: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({ ...hostPort(addr), ...options });
    const out: RawOutcome = { secured: false, error: undefined, received: 0 };
    socket.on('secureConnect', () => {
      out.secured = true;
      const w = new MessageWriter();
      w.writeRequest(RpcType.AppendEntries, appendReq({ term }));
      socket.write(w.take());
    });
    socket.on('data', (d: Buffer) => (out.received += d.length));
    socket.on('error', (err) => (out.error = err));
    socket.on('close', () => resolve(out));
  });
}

/** The certificate a server presents to a raw client (which also presents `client`). */
function presentedCert(addr: string, ca: string, client: KeyPair): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...hostPort(addr), ca, key: client.key, cert: client.cert });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/** Serves `t`, recording the term of every RPC that reaches the consumer. */
function recordTerms(t: TLSTransport): number[] {
  const terms: number[] = [];
  void serve(t, (rpc: RPC) => {
    if (rpc.type === RpcType.AppendEntries) terms.push(rpc.command.term);
    return echoResponder(rpc);
  });
  return terms;
}

function sockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;
}

if (pki === undefined) {
  describe.skip('TLSStreamLayer: the openssl CLI was not found; install openssl to run the TLS tests', () => {
    it('needs openssl to generate test certificates', () => {});
  });
} else {
  const PKI = pki;
  const creds = (pair: KeyPair = PKI.peer, ca: string = PKI.ca) => ({ key: pair.key, cert: pair.cert, ca });

  runTransportConformance({
    name: 'NetworkTransport over mutual TLS',
    sameObjects: false,
    unreachableAddr: closedPort,
    async makeCluster(n, opts = {}) {
      const ts = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          newTLSTransport('127.0.0.1:0', {
            ...creds(),
            timeout: opts.timeout ?? 5_000,
            maxRPCsInFlight: opts.maxInFlight,
            localID: opts.localIDs?.[i],
          }),
        ),
      );
      return {
        transports: ts,
        close: async () => {
          await Promise.all(ts.map((t) => t.close()));
        },
      };
    },
  });

  describe('TLSStreamLayer: mutual TLS', () => {
    const open: Array<{ close(): Promise<void> }> = [];
    const transport = async (opts: Partial<TLSTransportOptions> = {}): Promise<TLSTransport> => {
      const t = await newTLSTransport('127.0.0.1:0', { ...creds(), timeout: 10_000, ...opts });
      open.push(t);
      return t;
    };
    const layer = async (opts: Partial<TLSStreamLayerOptions> = {}): Promise<TLSStreamLayer> => {
      const l = await TLSStreamLayer.listen('127.0.0.1:0', { ...creds(), ...opts });
      open.push(l);
      return l;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((t) => t.close()));
    });

    it.each(['TLSv1.2', 'TLSv1.3'] as const)(
      'refuses a client without a certificate (%s) while an authenticated peer is served',
      async (version) => {
        const server = await transport();
        const terms = recordTerms(server);
        const client = await transport();
        const [raw, good] = await Promise.all([
          rawAttempt(server.localAddr(), { ca: PKI.ca, maxVersion: version }, 666),
          client.appendEntries('s', server.localAddr(), appendReq({ term: 1 })),
        ]);
        expect(good.term).toBe(1);
        expect(raw.received).toBe(0);
        expect(raw.error?.message).toMatch(/certificate required|handshake failure/);
        // A later authenticated call is served; the unauthenticated request never was.
        await client.appendEntries('s', server.localAddr(), appendReq({ term: 2 }));
        expect(terms).toEqual([1, 2]);
        expect(server.tls.handshakeFailures).toBeGreaterThanOrEqual(1);
      },
    );

    it.each(['TLSv1.2', 'TLSv1.3'] as const)('refuses a client whose certificate another CA signed (%s)', async (version) => {
      const server = await transport();
      const terms = recordTerms(server);
      // The impostor trusts the real CA, so only the server's check can stop it.
      const impostor = await transport({ ...creds(PKI.impostor), maxVersion: version });
      const err = await rejection(impostor.appendEntries('s', server.localAddr(), appendReq({ term: 7 })));
      expectCode(err, ErrorCode.PeerUnreachable);
      expect((err as Error).message).toMatch(/refused our certificate|closed|hang up|disconnected/);

      const raw = await rawAttempt(server.localAddr(), { ca: PKI.ca, ...PKI.impostor, maxVersion: version }, 8);
      expect(raw.received).toBe(0);

      const client = await transport();
      await client.appendEntries('s', server.localAddr(), appendReq({ term: 3 }));
      expect(terms).toEqual([3]);
      expect(server.tls.handshakeFailures).toBeGreaterThanOrEqual(2);
    });

    it('refuses to dial a server whose certificate does not verify, with the TLS reason', async () => {
      // Signed by a CA the dialer does not trust.
      const rogue = await transport({ ...creds(PKI.impostor, PKI.ca) });
      const client = await transport();
      const err = await rejection(
        client.requestVote('r', rogue.localAddr(), {
          rpcHeader: { protocolVersion: 3, id: null, addr: null },
          term: 1,
          candidate: null,
          lastLogIndex: 0,
          lastLogTerm: 0,
          leadershipTransfer: false,
        }),
      );
      expectCode(err, ErrorCode.PeerUnreachable);
      expect((err as Error).message).toMatch(/certificate/i);
    });

    it('checks the server name against the certificate, with servername and checkServerIdentity overrides', async () => {
      const server = await transport();
      recordTerms(server);
      const wrongName = await transport({ servername: 'db.example.com' });
      const err = await rejection(wrongName.appendEntries('s', server.localAddr(), appendReq()));
      expectCode(err, ErrorCode.PeerUnreachable);
      expect((err as Error).message).toMatch(/altnames|not in the cert/i);

      const dnsName = await transport({ servername: 'localhost' });
      expect((await dnsName.appendEntries('s', server.localAddr(), appendReq({ term: 4 }))).term).toBe(4);

      const seen: string[] = [];
      const custom = await transport({
        servername: 'raft.internal',
        checkServerIdentity: (host, cert) => {
          seen.push(`${host} ${cert.subject.CN}`);
          return undefined;
        },
      });
      expect((await custom.appendEntries('s', server.localAddr(), appendReq({ term: 5 }))).term).toBe(5);
      expect(seen).toEqual(['raft.internal peer-1']);
    });

    it('reloads the server certificate for new connections while open ones keep working', async () => {
      const server = await transport();
      const terms = recordTerms(server);
      const client = await transport();
      const addr = server.localAddr();
      const before = await presentedCert(addr, PKI.ca, PKI.peer);
      expect(before.subject.CN).toBe('peer-1');

      // A pipeline owns its connection: it is certainly the pre-reload one.
      const pipeline = await client.appendEntriesPipeline('s', addr);
      await (await pipeline.appendEntries(appendReq({ term: 10 }))).wait();

      server.reload({ key: PKI.peer2.key, cert: PKI.peer2.cert });

      const after = await presentedCert(addr, PKI.ca, PKI.peer);
      expect(after.subject.CN).toBe('peer-2');
      expect(after.serialNumber).not.toBe(before.serialNumber);
      expect(after.fingerprint256).not.toBe(before.fingerprint256);

      const f = await pipeline.appendEntries(appendReq({ term: 11 }));
      expect((await f.wait()).term).toBe(11);
      // New dials verify the new certificate against the same CA.
      const other = await transport();
      await other.appendEntries('s', addr, appendReq({ term: 12 }));
      expect(terms).toEqual([10, 11, 12]);
      await pipeline.close();
    });

    it('refuses a reload whose key does not match, keeping the old credentials', async () => {
      const server = await transport();
      let thrown: unknown;
      try {
        server.reload({ key: PKI.peer.key, cert: PKI.peer2.cert });
      } catch (err) {
        thrown = err;
      }
      expectCode(thrown, ErrorCode.InvalidValue);
      expect((await presentedCert(server.localAddr(), PKI.ca, PKI.peer)).subject.CN).toBe('peer-1');
    });

    it('names a certificate without the clientAuth usage at listen and reload, instead of a CA error at handshake', async () => {
      const listening = await rejection(
        TLSStreamLayer.listen('127.0.0.1:0', { ca: PKI.ca, key: PKI.serverOnly.key, cert: PKI.serverOnly.cert }),
      );
      expectCode(listening, ErrorCode.InvalidValue);
      expect((listening as Error).message).toContain('lacks the clientAuth extended key usage');
      expect((listening as Error).message).toContain('extendedKeyUsage=serverAuth,clientAuth');
      const server = await transport();
      let thrown: unknown;
      try {
        server.reload({ key: PKI.serverOnly.key, cert: PKI.serverOnly.cert });
      } catch (err) {
        thrown = err;
      }
      expectCode(thrown, ErrorCode.InvalidValue);
      expect((await presentedCert(server.localAddr(), PKI.ca, PKI.peer)).subject.CN).toBe('peer-1');
    });

    it('presents the reloaded client certificate on new dials', async () => {
      const server = await layer();
      const client = await layer();
      const certOfNextDial = async (): Promise<unknown> => {
        const [inbound, outbound] = await Promise.all([server.accept(), client.dial(server.addr(), 5_000)]);
        const cn = (inbound as tls.TLSSocket).getPeerCertificate().subject.CN;
        inbound.destroy();
        outbound.destroy();
        return cn;
      };
      expect(await certOfNextDial()).toBe('peer-1');
      client.reload({ key: PKI.peer2.key, cert: PKI.peer2.cert });
      expect(await certOfNextDial()).toBe('peer-2');
      // A CA rotation: once the client trusts only the other CA, our server no longer verifies.
      client.reload({ key: PKI.peer2.key, cert: PKI.peer2.cert, ca: PKI.otherCa });
      expectCode(await rejection(client.dial(server.addr(), 5_000)), ErrorCode.PeerUnreachable);
    });

    it('drops non-TLS bytes without crashing, and hands accept() only completed handshakes', async () => {
      const server = await layer();
      const accepted: Duplex[] = [];
      const acceptLoop = (async () => {
        for (;;) {
          try {
            accepted.push(await server.accept());
          } catch {
            return;
          }
        }
      })();
      const { host, port } = hostPort(server.addr());
      const junk = net.connect({ host, port });
      junk.on('error', () => {});
      junk.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((r) => junk.once('close', r));
      expect(server.handshakeFailures).toBeGreaterThanOrEqual(1);

      const client = await layer();
      const ok = await client.dial(server.addr(), 5_000);
      ok.destroy();
      await server.close();
      await acceptLoop;
      expect(accepted).toHaveLength(1);
      for (const s of accepted) s.destroy();
    });

    it('closes without waiting for a handshake that never completes', async () => {
      const server = await TLSStreamLayer.listen('127.0.0.1:0', creds());
      const { host, port } = hostPort(server.addr());
      const silent = net.connect({ host, port });
      silent.on('error', () => {});
      await new Promise((r) => silent.once('connect', r));
      const closed = new Promise((r) => silent.once('close', r));
      silent.resume();
      await server.close();
      await closed;
      await expect(server.accept()).rejects.toSatisfy((e) => isTransportError(e, ErrorCode.TransportShutdown));
    });

    it('times out and aborts a dial whose handshake stalls', async () => {
      const held: net.Socket[] = [];
      const mute = net.createServer((s) => held.push(s));
      await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
      const addr = `127.0.0.1:${(mute.address() as net.AddressInfo).port}`;
      try {
        const client = await layer();
        expectCode(await rejection(client.dial(addr, 50)), ErrorCode.RpcTimeout);
        const ac = new AbortController();
        const pending = client.dial(addr, 0, ac.signal);
        ac.abort(new Error('stop'));
        expectCode(await rejection(pending), ErrorCode.Aborted);
        expectCode(await rejection(client.dial(addr, 0, AbortSignal.abort())), ErrorCode.Aborted);
        expectCode(await rejection(client.dial('not an address', 0)), ErrorCode.PeerUnreachable);
      } finally {
        for (const s of held) s.destroy();
        await new Promise((r) => mute.close(r));
      }
    });

    it('validates credentials and addresses at listen time', async () => {
      expectCode(
        await rejection(TLSStreamLayer.listen('127.0.0.1:0', { key: PKI.peer.key, cert: PKI.peer2.cert, ca: PKI.ca })),
        ErrorCode.InvalidValue,
      );
      expectCode(await rejection(TLSStreamLayer.listen('0.0.0.0:0', creds())), ErrorCode.InvalidValue);
      const adv = await layer({ advertise: '10.0.0.1:8300' });
      expect(adv.addr()).toBe('10.0.0.1:8300');
    });

    it('leaves no sockets or servers behind after close()', async () => {
      const before = sockets();
      const a = await newTLSTransport('127.0.0.1:0', creds());
      const b = await newTLSTransport('127.0.0.1:0', creds());
      recordTerms(b);
      await a.appendEntries('b', b.localAddr(), appendReq({ term: 1 }));
      const p = await a.appendEntriesPipeline('b', b.localAddr());
      await (await p.appendEntries(appendReq({ term: 2 }))).wait();
      await Promise.all([a.close(), b.close()]);
      expect(sockets()).toBeLessThanOrEqual(before);
    });
  });
}
