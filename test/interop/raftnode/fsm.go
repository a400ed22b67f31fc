package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// command is one KV log entry, as examples/raft/kv writes it:
// {"op":"set","key":"k","value":"v"} or {"op":"delete","key":"k"}.
type command struct {
	Op    string `json:"op"`
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// kvFSM is the key-value state machine of the KV example: same commands,
// same snapshot format (one JSON object, key to value), so a Go node restores
// a TypeScript node's snapshot and the other way round.
type kvFSM struct {
	mu      sync.Mutex
	data    map[string]string
	applied uint64
	// appendedAt is the last applied entry's Log.AppendedAt as this raft
	// version decoded it from the leader's bytes (zero when the leader sent
	// none); hasAppendedAt says whether this version's Log has the field
	// (1.5.0+; 1.1.2 has none), for the interop tests' time-format checks.
	appendedAt    time.Time
	hasAppendedAt bool
}

func newKVFSM() *kvFSM { return &kvFSM{data: map[string]string{}} }

func (f *kvFSM) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = l.Index
	// Reflection rather than l.AppendedAt keeps one source for all three raft versions.
	if at := reflect.ValueOf(l).Elem().FieldByName("AppendedAt"); at.IsValid() {
		f.hasAppendedAt = true
		f.appendedAt, _ = at.Interface().(time.Time)
	}
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return nil // malformed commands are skipped alike on every node
	}
	prev, had := f.data[c.Key]
	switch c.Op {
	case "set":
		f.data[c.Key] = c.Value
	case "delete":
		delete(f.data, c.Key)
	default:
		return nil
	}
	if !had {
		return nil
	}
	return prev
}

func (f *kvFSM) get(key string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.data[key]
	return v, ok
}

func (f *kvFSM) copyData() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]string, len(f.data))
	for k, v := range f.data {
		out[k] = v
	}
	return out
}

func (f *kvFSM) Snapshot() (raft.FSMSnapshot, error) {
	return &kvSnapshot{data: f.copyData()}, nil
}

func (f *kvFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data := map[string]string{}
	if err := json.NewDecoder(rc).Decode(&data); err != nil {
		return fmt.Errorf("restore: snapshot is not a JSON object of strings: %v", err)
	}
	f.mu.Lock()
	f.data = data
	f.mu.Unlock()
	return nil
}

type kvSnapshot struct{ data map[string]string }

func (s *kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.data); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *kvSnapshot) Release() {}
