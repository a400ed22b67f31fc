// Command goconfig prints hashicorp/raft's encoding of a Configuration
// (EncodeConfiguration, the bytes of a LogConfiguration entry) as hex, for
// the TypeScript example's test vector.
package main

import (
	"encoding/hex"
	"fmt"

	"github.com/hashicorp/raft"
)

func main() {
	cfgs := []raft.Configuration{
		{Servers: []raft.Server{{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:7001"}}},
		{Servers: []raft.Server{
			{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:7001"},
			{Suffrage: raft.Nonvoter, ID: "node-two", Address: "10.0.0.2:8300"},
			{Suffrage: raft.Staging, ID: "a-rather-long-server-identifier-0123456789", Address: "some-host.example.internal.cluster.local:65535"},
		}},
		{Servers: nil},
	}
	for _, c := range cfgs {
		fmt.Println(hex.EncodeToString(raft.EncodeConfiguration(c)))
	}
}
