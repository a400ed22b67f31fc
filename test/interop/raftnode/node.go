package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// node is the HTTP face of one Raft node, with the KV example's API.
type node struct {
	id       raft.ServerID
	raft     *raft.Raft
	fsm      *kvFSM
	trans    *raft.NetworkTransport
	httpAddr string
}

const applyTimeout = 10 * time.Second

func (n *node) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/kv/", n.kv)
	mux.HandleFunc("/status", n.status)
	mux.HandleFunc("/join", n.join)
	mux.HandleFunc("/remove", n.remove)
	mux.HandleFunc("/transfer", n.transfer)
	mux.HandleFunc("/snapshot", n.snapshot)
	return mux
}

// leaderID is the current leader's ServerID, from its address and the configuration (1.1.2 has no LeaderWithID).
func (n *node) leaderID() raft.ServerID {
	addr := n.raft.Leader()
	if addr == "" {
		return ""
	}
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return ""
	}
	for _, s := range f.Configuration().Servers {
		if s.Address == addr {
			return s.ID
		}
	}
	return ""
}

// redirect sends a non-leader's caller to the leader's HTTP address (its _http/<id> entry), or answers 503.
func (n *node) redirect(w http.ResponseWriter, r *http.Request) {
	leader := n.leaderID()
	if leader == "" {
		http.Error(w, "no leader", http.StatusServiceUnavailable)
		return
	}
	addr, ok := n.fsm.get("_http/" + string(leader))
	if !ok {
		http.Error(w, "leader's HTTP address unknown yet", http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, "http://"+addr+r.URL.RequestURI(), http.StatusTemporaryRedirect)
}

func (n *node) isLeader() bool { return n.raft.State() == raft.Leader }

func (n *node) apply(c command) error {
	data, _ := json.Marshal(c)
	return n.raft.Apply(data, applyTimeout).Error()
}

func (n *node) kv(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/kv/")
	if key == "" {
		http.Error(w, "missing key", http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodGet:
		if r.URL.Query().Get("consistent") == "1" {
			if !n.isLeader() {
				n.redirect(w, r)
				return
			}
			if err := n.raft.Barrier(applyTimeout).Error(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		v, ok := n.fsm.get(key)
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		io.WriteString(w, v)
	case http.MethodPut, http.MethodDelete:
		if !n.isLeader() {
			n.redirect(w, r)
			return
		}
		c := command{Op: "delete", Key: key}
		if r.Method == http.MethodPut {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			c = command{Op: "set", Key: key, Value: string(body)}
		}
		if err := n.apply(c); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

type serverJSON struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
}

func (n *node) status(w http.ResponseWriter, r *http.Request) {
	stats := n.raft.Stats()
	servers := []serverJSON{}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			servers = append(servers, serverJSON{ID: string(s.ID), Address: string(s.Address), Suffrage: s.Suffrage.String()})
		}
	}
	n.fsm.mu.Lock()
	// Raft's applied index counts noop, configuration and barrier entries too,
	// as the KV contract's appliedIndex does; the FSM sees only commands.
	applied := n.fsm.applied
	if a := num(stats["applied_index"]); a > applied {
		applied = a
	}
	var appendedAt interface{}
	if n.fsm.hasAppendedAt {
		appendedAt = ""
		if !n.fsm.appendedAt.IsZero() {
			appendedAt = n.fsm.appendedAt.UTC().Format(time.RFC3339Nano)
		}
	}
	n.fsm.mu.Unlock()
	out := map[string]interface{}{
		"id":                string(n.id),
		"state":             n.raft.State().String(),
		"term":              num(stats["term"]),
		"leader":            string(n.leaderID()),
		"commitIndex":       num(stats["commit_index"]),
		"appliedIndex":      applied,
		"lastLogIndex":      num(stats["last_log_index"]),
		"lastSnapshotIndex": num(stats["last_snapshot_index"]),
		"configuration":     servers,
		"impl":              "go",
		// Log.AppendedAt of the last applied command as decoded here: null when
		// this raft version has no such field (1.1.2), "" when the leader sent none.
		"lastAppendedAt": appendedAt,
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func num(s string) uint64 {
	var v uint64
	fmt.Sscan(s, &v)
	return v
}

func decodeBody(w http.ResponseWriter, r *http.Request, v interface{}) bool {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil && err != io.EOF {
		http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func (n *node) join(w http.ResponseWriter, r *http.Request) {
	var req struct{ ID, Addr string }
	if !decodeBody(w, r, &req) {
		return
	}
	if !n.isLeader() {
		n.redirect(w, r)
		return
	}
	if err := n.raft.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.Addr), 0, applyTimeout).Error(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (n *node) remove(w http.ResponseWriter, r *http.Request) {
	var req struct{ ID string }
	if !decodeBody(w, r, &req) {
		return
	}
	if !n.isLeader() {
		n.redirect(w, r)
		return
	}
	if err := n.raft.RemoveServer(raft.ServerID(req.ID), 0, applyTimeout).Error(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (n *node) transfer(w http.ResponseWriter, r *http.Request) {
	var req struct{ ID string }
	if !decodeBody(w, r, &req) {
		return
	}
	if !n.isLeader() {
		n.redirect(w, r)
		return
	}
	var f raft.Future
	if req.ID == "" {
		f = n.raft.LeadershipTransfer()
	} else {
		addr := raft.ServerAddress("")
		if cf := n.raft.GetConfiguration(); cf.Error() == nil {
			for _, s := range cf.Configuration().Servers {
				if string(s.ID) == req.ID {
					addr = s.Address
				}
			}
		}
		if addr == "" {
			http.Error(w, "unknown server "+req.ID, http.StatusBadRequest)
			return
		}
		f = n.raft.LeadershipTransferToServer(raft.ServerID(req.ID), addr)
	}
	if err := f.Error(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (n *node) snapshot(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := n.raft.Snapshot().Error(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// registerHTTP makes sure the cluster knows this node's HTTP address
// (_http/<id>), so followers of any language can redirect to it when it leads.
func (n *node) registerHTTP(stop <-chan struct{}) {
	key := "_http/" + string(n.id)
	for {
		select {
		case <-stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
		if v, ok := n.fsm.get(key); ok && v == n.httpAddr {
			continue // keep watching: a restored snapshot could predate us
		}
		if n.isLeader() {
			n.apply(command{Op: "set", Key: key, Value: n.httpAddr})
			continue
		}
		leader := n.leaderID()
		if leader == "" || !n.member() {
			continue
		}
		if addr, ok := n.fsm.get("_http/" + string(leader)); ok {
			put("http://"+addr+"/kv/"+key, n.httpAddr)
		}
	}
}

// member reports whether this node is in the latest configuration.
func (n *node) member() bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == n.id {
			return true
		}
	}
	return false
}

// joinVia asks the member at httpAddr to add this node, following redirects, until it is a member.
func (n *node) joinVia(httpAddr string, stop <-chan struct{}) {
	body, _ := json.Marshal(map[string]string{"id": string(n.id), "addr": string(n.trans.LocalAddr())})
	for !n.member() {
		resp, err := http.Post("http://"+httpAddr+"/join", "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
		select {
		case <-stop:
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func put(url, value string) {
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(value))
	if err != nil {
		return
	}
	client := &http.Client{Timeout: 5 * time.Second}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
	}
}
