/**
 * vitest globalSetup: builds the Go interop peer against every hashicorp/raft
 * version before any test file starts, so test files reuse the cached
 * binaries instead of racing each other's builds (and cold builds don't eat
 * test timeouts). Prints how long that took. Without Go it does nothing (the
 * tests skip with a note), unless RAFT_TRANSPORT_REQUIRE_GO is set.
 */
import { buildGoProgram, GO_VERSIONS, goAvailable } from '../helpers/go-build.ts';
import { PEER_DIR } from './go-peer.ts';

export default async function setup(): Promise<void> {
  if (!goAvailable().ok) return;
  const start = performance.now();
  // One at a time: the machine may have two cores, and go build is parallel inside.
  for (const version of GO_VERSIONS) await buildGoProgram(PEER_DIR, version);
  console.log(`[interop] Go peer ready for raft ${GO_VERSIONS.join(', ')} in ${Math.round(performance.now() - start)} ms`);
}
