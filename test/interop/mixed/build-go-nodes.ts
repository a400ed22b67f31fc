/**
 * Builds the Go raftnode for every raft version the mixed-cluster tests use,
 * into test/helpers/go-build.ts's cache, so CI pays for the builds once, up
 * front, and not inside test timeouts:
 *
 *   npx tsx test/interop/mixed/build-go-nodes.ts
 */
import { buildGoProgram, GO_VERSIONS, goSkipReason } from '../../helpers/go-build.ts';
import { RAFTNODE_DIR } from './cluster-harness.ts';

const skip = goSkipReason();
if (skip) {
  console.log(`Go raftnode builds skipped: ${skip}`);
} else {
  for (const version of GO_VERSIONS) console.log(`raftnode ${version}: ${await buildGoProgram(RAFTNODE_DIR, version)}`);
}
