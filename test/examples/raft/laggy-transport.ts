/**
 * A Transport that delays every outgoing call by a seeded random time before
 * handing it to the real one: latency for in-memory clusters. Order is kept
 * on a pipeline (its caller awaits each send). Test helper only.
 */
import type {
  AppendEntriesRequest,
  AppendPipeline,
  ByteSource,
  CallOptions,
  HeartbeatHandler,
  InstallSnapshotRequest,
  RequestPreVoteRequest,
  RequestVoteRequest,
  ServerAddress,
  ServerID,
  TimeoutNowRequest,
  Transport,
} from '../../../src/index.ts';
import { delay } from '../../../examples/raft/trigger.ts';

export class LaggyTransport implements Transport {
  /** Latency range in ms; [0, 0] turns it off. */
  latency: [number, number] = [0, 0];

  constructor(
    readonly inner: Transport,
    private readonly random: () => number,
  ) {}

  private lag(opts?: CallOptions): Promise<void> {
    const [min, max] = this.latency;
    if (max <= 0) return Promise.resolve();
    return delay(min + Math.floor(this.random() * (max - min + 1)), opts?.signal);
  }

  consumer: Transport['consumer'] = (opts) => this.inner.consumer(opts);
  receive: Transport['receive'] = (opts) => this.inner.receive(opts);
  localAddr = (): ServerAddress => this.inner.localAddr();
  encodePeer = (id: ServerID, addr: ServerAddress): Uint8Array => this.inner.encodePeer(id, addr);
  decodePeer = (buf: Uint8Array): ServerAddress => this.inner.decodePeer(buf);
  setHeartbeatHandler = (h: HeartbeatHandler | null): void => this.inner.setHeartbeatHandler(h);
  stats: Transport['stats'] = () => this.inner.stats();
  close = (): Promise<void> => this.inner.close();

  async appendEntries(id: ServerID, target: ServerAddress, req: AppendEntriesRequest, opts?: CallOptions) {
    await this.lag(opts);
    return this.inner.appendEntries(id, target, req, opts);
  }
  async requestVote(id: ServerID, target: ServerAddress, req: RequestVoteRequest, opts?: CallOptions) {
    await this.lag(opts);
    return this.inner.requestVote(id, target, req, opts);
  }
  async requestPreVote(id: ServerID, target: ServerAddress, req: RequestPreVoteRequest, opts?: CallOptions) {
    await this.lag(opts);
    return this.inner.requestPreVote(id, target, req, opts);
  }
  async installSnapshot(id: ServerID, target: ServerAddress, req: InstallSnapshotRequest, data: ByteSource, opts?: CallOptions) {
    await this.lag(opts);
    return this.inner.installSnapshot(id, target, req, data, opts);
  }
  async timeoutNow(id: ServerID, target: ServerAddress, req: TimeoutNowRequest, opts?: CallOptions) {
    await this.lag(opts);
    return this.inner.timeoutNow(id, target, req, opts);
  }
  async appendEntriesPipeline(id: ServerID, target: ServerAddress, opts?: CallOptions): Promise<AppendPipeline> {
    const p = await this.inner.appendEntriesPipeline(id, target, opts);
    return {
      appendEntries: async (req, o) => {
        await this.lag(o);
        return p.appendEntries(req, o);
      },
      consumer: () => p.consumer(),
      close: () => p.close(),
    };
  }
}
