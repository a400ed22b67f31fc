/**
 * Issue 15, part 2: Raft on a port the service already has, against a real Go
 * hashicorp/raft node whose StreamLayer writes the same routing byte on Dial
 * and requires it on Accept (test/interop/raftnode/prefix_layer.go, flag
 * --raft-prefix), as Consul's does. The TypeScript side is
 * examples/shared-port.ts: an HTTP API and Raft on one port.
 *
 * (a) Go dials our shared port: a Go leader adds the TS node as a voter and
 *     replicates to it through the prefix route, while HTTP keeps answering
 *     on the same port.
 * (b) We dial Go: a PrefixDialer writes the byte and Go answers; the same
 *     request without the byte is dropped by Go's Accept (negative control).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { type SharedPortNode, RAFT_PREFIX, startSharedPortNode } from '../../examples/shared-port.ts';
import {
  type AppendEntriesRequest,
  appendEntriesRequest,
  appendEntriesResponse,
  HandoffStreamLayer,
  NetworkTransport,
  newTCPTransport,
  preVoteResponse,
  PrefixDialer,
  RpcType,
  type Transport,
  voteResponse,
} from '../../src/index.ts';
import { buildGoProgram, type GoRaftVersion, goSkipReason } from '../helpers/go-build.ts';
import { go, MixedNode, post, put, RAFTNODE_DIR, stopAll, TEST_TIMING, until, waitLeader } from './mixed/cluster-harness.ts';

const VERSIONS = ['1.7.3', '1.1.2'] as const satisfies readonly GoRaftVersion[];
const skip = goSkipReason();
if (skip !== undefined) console.warn(`[interop] skipping shared-port tests with Go: ${skip}`);

/** Everything a test opened, closed after it whether it passed or not. */
const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await stopAll(); // the Go processes first: they stop dialling us
  for (const o of opened.splice(0)) await o.close(); // in order: a node before its consumer loop
});
// the builds (cached) outside the tests' own timeouts
beforeAll(async () => {
  if (skip === undefined) for (const v of VERSIONS) await buildGoProgram(RAFTNODE_DIR, v);
}, 300_000);

/** A Go raftnode whose Raft uses the prefix layer, bootstrapped as a one-server cluster and leading it. */
async function goLeader(version: GoRaftVersion): Promise<MixedNode> {
  const g = new MixedNode('g1', go(version), [...TEST_TIMING, '--raft-prefix', String(RAFT_PREFIX)]);
  await g.start(['--bootstrap']);
  return waitLeader([g]);
}

/** The shared-port node, closed (with its consumer loop awaited) after the test. */
async function sharedPortNode(authorize?: (remote: string) => void): Promise<SharedPortNode> {
  const node = await startSharedPortNode({
    api: (req, res) => res.end(`api ${req.method} ${req.url}`),
    authorize: (socket) => {
      authorize?.(String((socket as { remoteAddress?: string }).remoteAddress));
      return true;
    },
    transport: { localID: 't1' },
  });
  opened.push(node);
  return node;
}

describe.skipIf(skip !== undefined).each(VERSIONS)('Raft on a shared HTTP port with a Go %s peer (prefix byte)', (version) => {
  it('(a) a Go leader dials our shared port with the prefix byte: AddVoter of the TS node, replication to it, and HTTP still answers', async () => {
    const handedOff: string[] = [];
    const node = await sharedPortNode((remote) => handedOff.push(remote));
    const appends: AppendEntriesRequest[] = [];
    // A follower that agrees with whatever the leader sends and grants every vote: enough for Go to count our
    // acknowledgements, and to win again should a busy machine cost it its lease.
    const serving = (async () => {
      for await (const rpc of node.raft.consumer()) {
        if (rpc.type === RpcType.AppendEntries) {
          const { term, prevLogEntry, entries } = rpc.command;
          appends.push(rpc.command);
          rpc.respond(appendEntriesResponse({ term, lastLog: prevLogEntry + (entries?.length ?? 0), success: true }));
        } else if (rpc.type === RpcType.RequestVote) {
          rpc.respond(voteResponse({ term: rpc.command.term, granted: true }));
        } else if (rpc.type === RpcType.RequestPreVote) {
          rpc.respond(preVoteResponse({ term: rpc.command.term, granted: true }));
        } else {
          rpc.respond(null, `unexpected RPC type ${rpc.type}`);
        }
      }
    })();
    opened.push({ close: () => serving }); // ends once the node (closed first) closes its transport

    const g = await goLeader(version);
    // Go's AddVoter from one voter to two commits on the leader alone (it counts the entry under the old
    // configuration); from then on every write needs our acknowledgement, sent back through the prefix route.
    const joined = await post(g.http, '/join', { id: 't1', addr: node.addr });
    expect(joined).toEqual({ status: 204, text: '' });
    const status = await g.status();
    expect(status?.configuration).toContainEqual({ id: 't1', address: node.addr, suffrage: 'Voter' });
    await until('a write to commit on the Go leader', () => put(g.http, 'shared', 'port')); // a PUT retried is the same write

    expect(handedOff.length).toBeGreaterThan(0);
    expect(handedOff.every((remote) => remote === '127.0.0.1')).toBe(true);
    const decoder = new TextDecoder();
    const fromGo = appends.filter((a) => decoder.decode(a.leader) === g.raft);
    expect(fromGo.length).toBe(appends.length);
    // the configuration entry and the write reached us as log entries
    const data = fromGo.flatMap((a) => a.entries ?? []).map((e) => decoder.decode(e.data ?? new Uint8Array()));
    expect(data.some((d) => d.includes('"shared"') && d.includes('"port"'))).toBe(true);

    // HTTP on the same port, while Raft is connected
    const res = await fetch(`http://${node.addr}/hello`, { signal: AbortSignal.timeout(10_000) });
    expect(await res.text()).toBe('api GET /hello');
    // and Go leads with us as the other voter (which takes our answers)
    await waitLeader([g]);
  });

  it('(b) we dial the Go node with PrefixDialer: Go answers a term-0 AppendEntries with its term; without the byte, Go drops the connection', async () => {
    const g = await goLeader(version);
    const term = (await until('the Go term', async () => (await g.status())?.term))!;
    const node = await sharedPortNode();
    const probe = (from: Transport) =>
      from.appendEntries('g1', g.raft, appendEntriesRequest({ term: 0, leader: node.addr }), { timeout: 10_000 });

    // A stale-term AppendEntries changes nothing on the Go side and is answered with Go's own term.
    const answer = await probe(node.raft);
    expect(answer).toMatchObject({ term, success: false });
    expect(answer.term).toBeGreaterThan(0);

    // Negative control 1: plain TCP (no prefix byte) — the first byte is AppendEntries' type, 0, not the prefix.
    const plain = await newTCPTransport('127.0.0.1:0', { timeout: 10_000 });
    opened.push(plain);
    await expect(probe(plain)).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_/) });

    // Negative control 2: the wrong prefix byte.
    const wrong = new NetworkTransport(
      new HandoffStreamLayer({ advertise: '127.0.0.1:1', dialer: new PrefixDialer({ prefix: [RAFT_PREFIX + 1] }) }),
      { timeout: 10_000 },
    );
    opened.push(wrong);
    await expect(probe(wrong)).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_/) });

    // and the right byte still works after both
    expect(await probe(node.raft)).toMatchObject({ term, success: false });
  });
});
