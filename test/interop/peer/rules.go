package main

// The responder rules (see the package comment in main.go) and the helpers
// both ends need: the entries CRC and the pseudo-random payload generator.

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"

	"github.com/hashicorp/raft"
)

// entriesCRC is CRC-32 (IEEE) over Index(8 BE) | Term(8 BE) | Type(1) | Data | Extensions per entry.
func entriesCRC(entries []*raft.Log) uint32 {
	h := crc32.NewIEEE()
	var hdr [17]byte
	for _, e := range entries {
		binary.BigEndian.PutUint64(hdr[0:8], e.Index)
		binary.BigEndian.PutUint64(hdr[8:16], e.Term)
		hdr[16] = byte(e.Type)
		h.Write(hdr[:])
		h.Write(e.Data)
		h.Write(e.Extensions)
	}
	return h.Sum32()
}

// pseudoRandomBytes is xorshift32 from seed, one output byte (the low byte)
// per step. go-peer.ts has the identical generator.
func pseudoRandomBytes(n int, seed uint32) []byte {
	if seed == 0 {
		seed = 0x9e3779b9
	}
	s := seed
	b := make([]byte, n)
	for i := range b {
		s ^= s << 13
		s ^= s >> 17
		s ^= s << 5
		b[i] = byte(s)
	}
	return b
}

// isHeartbeat is the exact test net_transport.go 1.1.2 applies.
func isHeartbeat(req *raft.AppendEntriesRequest) bool {
	return req.Term != 0 && req.Leader != nil &&
		req.PrevLogEntry == 0 && req.PrevLogTerm == 0 &&
		len(req.Entries) == 0 && req.LeaderCommitIndex == 0
}

// respond answers rpc by the deterministic responder rules.
func respond(rpc raft.RPC, viaHeartbeatHandler bool) {
	switch req := rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		if req.Term == 666 {
			rpc.Respond(&raft.AppendEntriesResponse{}, errors.New("go says no"))
			return
		}
		rpc.Respond(&raft.AppendEntriesResponse{
			RPCHeader:      req.RPCHeader,
			Term:           req.Term,
			LastLog:        req.PrevLogEntry + uint64(len(req.Entries)),
			Success:        uint64(entriesCRC(req.Entries)) == req.LeaderCommitIndex,
			NoRetryBackoff: viaHeartbeatHandler,
		}, nil)
	case *raft.RequestVoteRequest:
		rpc.Respond(&raft.RequestVoteResponse{
			RPCHeader: req.RPCHeader,
			Term:      req.Term + 1,
			Granted:   req.LeadershipTransfer,
			Peers:     req.Candidate,
		}, nil)
	case *raft.InstallSnapshotRequest:
		h := crc32.NewIEEE()
		var n int64
		var err error
		if req.Size > 0 {
			n, err = io.CopyN(h, rpc.Reader, req.Size)
		}
		resp := &raft.InstallSnapshotResponse{
			RPCHeader: req.RPCHeader,
			Term:      uint64(h.Sum32()),
			Success:   err == nil && n == req.Size,
		}
		rpc.Respond(resp, nil)
	case *raft.TimeoutNowRequest:
		rpc.Respond(&raft.TimeoutNowResponse{RPCHeader: req.RPCHeader}, nil)
	default:
		if !respondNewer(rpc) {
			rpc.Respond(nil, errors.New("raft-peer: unexpected command"))
		}
	}
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
