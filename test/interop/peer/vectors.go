package main

// vectors prints values of the shared helpers, so go-peer.ts can prove its
// TypeScript copies (entries crc, xorshift32 payloads) agree with Go's.

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/raft"
)

// vectorEntries must match the list in go-go.test.ts.
func vectorEntries() []*raft.Log {
	return []*raft.Log{
		entry(1, 2, raft.LogCommand, all256(), nil),
		entry(maxSafe, 7, raft.LogConfiguration, nil, []byte("ext")),
		entry(3, 3, raft.LogNoop, []byte{}, pseudoRandomBytes(100, 3)),
	}
}

func vectorsMain() int {
	out, _ := json.Marshal(map[string]interface{}{
		"entriesCrc":      entriesCRC(vectorEntries()),
		"emptyCrc":        entriesCRC(nil),
		"prng64seed2024":  hex.EncodeToString(pseudoRandomBytes(64, 2024)),
		"prng16seed0":     hex.EncodeToString(pseudoRandomBytes(16, 0)),
		"snapshotCrc3MiB": crc32IEEE(pseudoRandomBytes(3<<20, 2024)),
	})
	fmt.Println(string(out))
	return 0
}
