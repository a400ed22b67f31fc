/**
 * The KV node's HTTP API on `node:http`, the same API as the Go raftnode
 * (test/interop/raftnode/node.go), so one harness drives nodes of either
 * language and they redirect to each other:
 *
 *   PUT /kv/<key> (body: value), DELETE /kv/<key>   leader: 204 once applied; else 307 to the leader, or 503
 *   GET /kv/<key>[?consistent=1]                    local read, or through a barrier on the leader
 *   GET /status                                     {id, state, term, leader, commitIndex, appliedIndex, ...}
 *   POST /join {id, addr}, /remove {id}, /transfer {id?}, /snapshot
 *
 * A follower finds the leader's HTTP address in the replicated `_http/<id>`
 * entry every node writes for itself, whatever language the leader is.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { suffrageName } from '../configuration.ts';
import type { Raft } from '../raft.ts';
import { delay } from '../trigger.ts';
import { encodeCommand, type KVFSM } from './kv-fsm.ts';

const APPLY_TIMEOUT = 10_000;

/** The largest request body a node reads (a value or a /join argument); more is answered 413. */
const MAX_BODY = 1 << 20;
/** How long a client that was refused a body may keep its socket open after the 413. */
const REFUSED_GRACE_MS = 1000;

/** Thrown by `body()` past MAX_BODY; the router answers 413 and drops the connection. */
class BodyTooLarge extends Error {}

async function body(req: IncomingMessage): Promise<string> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) throw new BodyTooLarge();
  const parts: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new BodyTooLarge();
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

function send(res: ServerResponse, status: number, text = ''): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/** Go's json decoding into `struct{ ID, Addr string }` matches keys case-insensitively. */
function field(obj: Record<string, unknown>, name: string): string {
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === name && typeof v === 'string') return v;
  return '';
}

export class KVHttp {
  private server: Server;
  private readonly stop = new AbortController();
  httpAddr = '';

  constructor(
    private readonly raft: Raft,
    private readonly fsm: KVFSM,
  ) {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: Error) => {
        if (err instanceof BodyTooLarge) {
          // Answer, then close: the rest of the body is never read. Node
          // closes the socket gracefully after a `connection: close` answer,
          // so the client reads its 413; destroying the request ourselves
          // right away resets the connection first and the client sees
          // ECONNRESET instead. A client that keeps the socket open anyway
          // is cut a grace period after the answer went out.
          res.setHeader('connection', 'close');
          if (res.headersSent) req.destroy();
          else {
            // Taken now: Node detaches the socket from the request once the
            // answer is out (and it is already gone if the body reader
            // destroyed the request).
            const socket: Socket | null = req.socket;
            res.once('finish', () => {
              if (socket === null || socket.destroyed) return;
              const cut = setTimeout(() => socket.destroy(), REFUSED_GRACE_MS).unref();
              socket.once('close', () => clearTimeout(cut));
            });
            send(res, 413, `request body over ${MAX_BODY} bytes`);
          }
        } else if (!res.headersSent) send(res, 500, err.message);
        else res.destroy();
      });
    });
  }

  async listen(addr: string): Promise<string> {
    const i = addr.lastIndexOf(':');
    const host = addr.slice(0, i);
    const port = Number(addr.slice(i + 1));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    this.httpAddr = `${a.address}:${a.port}`;
    return this.httpAddr;
  }

  private get id(): string {
    return this.raft.config.localID;
  }

  private isLeader(): boolean {
    return this.raft.state() === 'Leader';
  }

  /** 307 to the leader's `_http/<id>` address, or 503 when there is none yet. */
  private redirect(req: IncomingMessage, res: ServerResponse): void {
    const leader = this.raft.leader();
    if (!leader?.id) {
      send(res, 503, 'no leader');
      return;
    }
    const addr = this.fsm.get(`_http/${leader.id}`);
    if (!addr) {
      send(res, 503, "leader's HTTP address unknown yet");
      return;
    }
    res.writeHead(307, { location: `http://${addr}${req.url ?? '/'}` });
    res.end();
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (path.startsWith('/kv/')) return this.kv(req, res, decodeURIComponent(path.slice(4)), url);
    if (path === '/status') return this.status(res);
    if (req.method !== 'POST') return send(res, 405, 'method not allowed');
    let args: Record<string, unknown> = {};
    const text = await body(req);
    if (text.trim() !== '') {
      try {
        args = JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        return send(res, 400, `bad JSON: ${(err as Error).message}`);
      }
    }
    if (path === '/snapshot') {
      try {
        this.raft.snapshot();
      } catch (err) {
        return send(res, 503, (err as Error).message);
      }
      return send(res, 204);
    }
    if (!['/join', '/remove', '/transfer'].includes(path)) return send(res, 404, 'not found');
    if (!this.isLeader()) return this.redirect(req, res);
    try {
      if (path === '/join') await this.raft.addVoter(field(args, 'id'), field(args, 'addr'), APPLY_TIMEOUT);
      else if (path === '/remove') await this.raft.removeServer(field(args, 'id'), APPLY_TIMEOUT);
      else await this.raft.leadershipTransfer(field(args, 'id') || undefined);
    } catch (err) {
      return send(res, 503, (err as Error).message);
    }
    send(res, 204);
  }

  private async kv(req: IncomingMessage, res: ServerResponse, key: string, url: URL): Promise<void> {
    if (key === '') return send(res, 400, 'missing key');
    if (req.method === 'GET') {
      if (url.searchParams.get('consistent') === '1') {
        if (!this.isLeader()) return this.redirect(req, res);
        try {
          await this.raft.barrier();
        } catch (err) {
          return send(res, 503, (err as Error).message);
        }
      }
      const v = this.fsm.get(key);
      return v === undefined ? send(res, 404, 'not found') : send(res, 200, v);
    }
    if (req.method !== 'PUT' && req.method !== 'DELETE') return send(res, 405, 'method not allowed');
    const value = req.method === 'PUT' ? await body(req) : undefined;
    if (!this.isLeader()) return this.redirect(req, res);
    const cmd = value === undefined ? encodeCommand({ op: 'delete', key }) : encodeCommand({ op: 'set', key, value });
    try {
      await this.raft.apply(cmd, APPLY_TIMEOUT);
    } catch (err) {
      return send(res, 503, (err as Error).message);
    }
    send(res, 204);
  }

  /** The same JSON as the Go raftnode's /status, plus `impl`. */
  private status(res: ServerResponse): void {
    const s = this.raft.stats();
    const out = {
      id: this.id,
      state: s.state,
      term: s.term,
      leader: this.raft.leader()?.id ?? '',
      commitIndex: s.commitIndex,
      appliedIndex: s.appliedIndex,
      lastLogIndex: s.lastLogIndex,
      lastSnapshotIndex: s.lastSnapshotIndex,
      configuration: s.configuration.servers.map((x) => ({ id: x.id, address: x.address, suffrage: suffrageName(x.suffrage) })),
      impl: 'ts',
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(out)}\n`);
  }

  private member(): boolean {
    return this.raft.stats().configuration.servers.some((s) => s.id === this.id);
  }

  /** Keeps `_http/<id>` = our HTTP address in the store (a restored snapshot could predate us). */
  async registerLoop(): Promise<void> {
    const key = `_http/${this.id}`;
    const signal = this.stop.signal;
    while (!signal.aborted) {
      await delay(200, signal);
      if (signal.aborted) return;
      if (this.fsm.get(key) === this.httpAddr) continue;
      try {
        if (this.isLeader()) {
          await this.raft.apply(encodeCommand({ op: 'set', key, value: this.httpAddr }));
          continue;
        }
        const leader = this.raft.leader();
        if (!leader?.id || !this.member()) continue;
        const addr = this.fsm.get(`_http/${leader.id}`);
        if (addr) {
          await fetch(`http://${addr}/kv/${key}`, {
            method: 'PUT',
            body: this.httpAddr,
            signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
          });
        }
      } catch {
        // retried on the next round
      }
    }
  }

  /** Asks the member at `httpAddr` to add us (following redirects) until we are in the configuration. */
  async joinLoop(httpAddr: string, raftAddr: string): Promise<void> {
    const signal = this.stop.signal;
    const payload = JSON.stringify({ id: this.id, addr: raftAddr });
    while (!signal.aborted && !this.member()) {
      try {
        const r = await fetch(`http://${httpAddr}/join`, {
          method: 'POST',
          body: payload,
          headers: { 'content-type': 'application/json' },
          signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]),
        });
        await r.arrayBuffer();
      } catch {
        // retried below
      }
      if (this.member()) return;
      await delay(300, signal);
    }
  }

  async close(): Promise<void> {
    this.stop.abort();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
