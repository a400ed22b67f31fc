// Command raft-node runs one real hashicorp/raft node (Debian's 1.1.2, GOPATH
// mode, offline): a single-server cluster, bootstrapped, that elects itself
// leader. test/cli/cli.test.ts probes it to show that `raft-transport probe`
// leaves a live Raft node's state alone.
//
//	raft-node            prints "LEADER <addr> <term>" once elected
//	stdin "state"        prints "STATE <state> <term> <last_log_index>"
//	stdin closed         shuts the node down and exits 0
package main

import (
	"bufio"
	"fmt"
	"io"
	"io/ioutil"
	"os"
	"time"

	"github.com/hashicorp/raft"
)

type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) interface{}         { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnapshot{}, nil }
func (nopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type nopSnapshot struct{}

func (nopSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (nopSnapshot) Release()                             {}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	trans, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, 5*time.Second, ioutil.Discard)
	if err != nil {
		fail("transport: %v", err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = "node-1"
	conf.HeartbeatTimeout = 200 * time.Millisecond
	conf.ElectionTimeout = 200 * time.Millisecond
	conf.LeaderLeaseTimeout = 100 * time.Millisecond
	conf.LogOutput = ioutil.Discard
	store := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	servers := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: trans.LocalAddr()}}}
	if err := raft.BootstrapCluster(conf, store, store, snaps, trans, servers); err != nil {
		fail("bootstrap: %v", err)
	}
	r, err := raft.NewRaft(conf, nopFSM{}, store, store, snaps, trans)
	if err != nil {
		fail("raft: %v", err)
	}
	select {
	case <-r.LeaderCh():
	case <-time.After(30 * time.Second):
		fail("not elected within 30 s")
	}
	stats := r.Stats()
	fmt.Printf("LEADER %s %s\n", trans.LocalAddr(), stats["term"])

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "state" {
			stats := r.Stats()
			fmt.Printf("STATE %s %s %s\n", r.State(), stats["term"], stats["last_log_index"])
		}
	}
	if err := r.Shutdown().Error(); err != nil {
		fail("shutdown: %v", err)
	}
}
