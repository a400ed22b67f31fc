// Command raft-peer is the Go side of the interop tests: a thin driver around
// hashicorp/raft's own NetworkTransport (raft.NewTCPTransport), so every byte
// on the wire comes from the real Go implementation. It builds against
// Debian's 1.1.2 and the upstream 1.5.0 and 1.7.3 trees; compat_raft*.go hold
// the per-version differences (build tags raft15, raft17).
//
// Build (GOPATH mode, offline; test/helpers/go-build.ts does this per version):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o raft-peer ./test/interop/peer
//	GO111MODULE=off GOPATH=$SHARED/upstream-go/v1.5.0:/usr/share/gocode go build -tags raft15 ...
//	GO111MODULE=off GOPATH=$SHARED/upstream-go/v1.7.3:/usr/share/gocode go build -tags 'raft17 hashicorpmetrics' ...
//
// Modes:
//
//	raft-peer serve  -addr 127.0.0.1:0 [-heartbeat] [-no-stdin] [-report] [-max-inflight N] [-new-time-format] [-v]
//	    Prints "LISTEN host:port" and answers every RPC by the responder rules
//	    below until stdin closes (or SIGINT/SIGTERM with -no-stdin); exits 0.
//	raft-peer client -target host:port -scenario NAME [-expect-fastpath] [-n N] [-v]
//	    Runs scenario NAME against a server that follows the same rules,
//	    prints "PASS <scenario> <details>" lines, exits 0; on failure prints
//	    "FAIL <scenario>: ..." on stderr and exits 1. Scenarios: append, vote,
//	    snapshot, timeoutnow, remote-error, heartbeat, large-ints, pipeline,
//	    concurrent, unsafe-int, all (= everything except unsafe-int), and
//	    header, appendedat, prevote, pipeline-refused (newer.go). Also
//	    -max-inflight N and -new-time-format (1.5+ / 1.7+).
//	raft-peer bench  -target host:port -scenario heartbeat|128b|64x1k|256x4k
//	                 -mode sync|pipeline -n N -warmup W
//	    Prints one JSON line: scenario, mode, n, seconds, rps, mbps, p50us,
//	    p99us (+ bytesPerReq, pipelineDepth). mbps is payload megabytes
//	    (10^6 bytes of entry Data) per second, not megabits. Pipeline latency
//	    is from the AppendEntries call to the future being consumed.
//	raft-peer vectors
//	    Prints the shared helpers' outputs as JSON (checked by go-go.test.ts).
//
// DETERMINISTIC RESPONDER RULES (test/interop/go-peer.ts implements the same
// in TypeScript; keep the two in step). Every response echoes the request's
// RPCHeader.ProtocolVersion unless said otherwise.
//
//   - AppendEntries:
//     1. Term == 666: respond with the error "go says no" and an all-zero
//     response (ProtocolVersion 0 too).
//     2. Otherwise: Term = req.Term, LastLog = req.PrevLogEntry + len(Entries),
//     NoRetryBackoff = true iff the RPC came through the heartbeat
//     fast-path handler (SetHeartbeatHandler), and
//     Success = (crc == req.LeaderCommitIndex), where crc is CRC-32 (IEEE)
//     over the concatenation, for each entry in order, of
//     Index (8 bytes big-endian) | Term (8 bytes BE) | Type (1 byte) | Data | Extensions.
//     So a CLIENT sending entries sets LeaderCommitIndex = crc and expects
//     Success = true; this checks every payload byte end to end. With no
//     entries the crc is 0, so a heartbeat (Term != 0, Leader != nil,
//     PrevLogEntry = PrevLogTerm = LeaderCommitIndex = 0, no entries) gets
//     Term = req.Term, LastLog = 0, Success = true, and NoRetryBackoff = true
//     only on the fast path.
//   - RequestVote: Term = req.Term + 1, Granted = req.LeadershipTransfer,
//     Peers = req.Candidate (bytes echoed).
//   - InstallSnapshot: read exactly Size bytes of snapshot data;
//     Term = CRC-32 (IEEE) of the data, Success = (bytes read == Size).
//   - TimeoutNow: echo ProtocolVersion.
//   - RequestPreVote (type 4): not in 1.1.2 or 1.5.0 (the Go transport drops
//     the connection); 1.7.3 and TS servers answer Term = req.Term + 1, Granted = true.
//
// Go 1.1.2 facts the tests rely on: no RequestPreVote, no RPCHeader ID/Addr,
// no Log.AppendedAt; go-msgpack 0.5.5 decodes an empty byte string (0xa0) into
// a nil slice, so Go cannot tell nil from empty after decoding (an empty
// Leader therefore is NOT a heartbeat to a Go server); the pipeline depth is
// the fixed rpcMaxPipeline = 128.
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/raft"
)

const (
	rpcTimeout = 10 * time.Second
	// maxSafe is Number.MAX_SAFE_INTEGER, the largest integer the TS side accepts.
	maxSafe = uint64(1)<<53 - 1
)

var verbose bool

func logOutput() io.Writer {
	if verbose {
		return os.Stderr
	}
	return io.Discard
}

// newTransport starts a real hashicorp NetworkTransport over TCP.
func newTransport(bind string, maxPool int) (*raft.NetworkTransport, error) {
	return newTransportWith(bind, maxPool, maxInFlightFlag, newTimeFormatFlag)
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  raft-peer serve  -addr 127.0.0.1:0 [-heartbeat] [-no-stdin] [-v]
  raft-peer client -target host:port -scenario NAME [-expect-fastpath] [-n N] [-v]
  raft-peer bench  -target host:port -scenario heartbeat|128b|64x1k|256x4k -mode sync|pipeline -n N -warmup W [-v]`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "serve":
		os.Exit(serveMain(args))
	case "client":
		os.Exit(clientMain(args))
	case "bench":
		os.Exit(benchMain(args))
	case "vectors":
		os.Exit(vectorsMain())
	default:
		usage()
	}
}
