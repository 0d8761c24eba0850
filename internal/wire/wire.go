// Package wire is the API contract between the manager and what reaches
// it from other processes: a cluster's adapter, an enforcement agent and
// the command line. It holds the shapes they exchange and the bundle
// that names an identity, so that an adapter or an agent builds against
// the contract without linking the manager (its store, etcd, the
// membership engine). The manager checks every value it receives; the
// types here assume nothing about their sender.
package wire

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/kordon-dev/kordon/internal/model"
)

// Bundle is what an adapter or an agent needs to reach the manager as its
// identity: the manager's URL and CA, and the identity's client
// certificate and key. A cluster's bundle is the Secret that `kordon
// cluster manifests` writes; an agent's is written by `kordon agent
// register --bundle-out`.
type Bundle struct {
	Cluster string `json:"cluster,omitempty"`
	// Agent names an enforcement agent's bundle (Cluster is then empty),
	// Role its role (vm or gateway).
	Agent  string `json:"agent,omitempty"`
	Role   string `json:"role,omitempty"`
	Server string `json:"server"`
	CA     string `json:"ca"`
	Cert   string `json:"cert"`
	Key    string `json:"key"`
}

// Heartbeat is what an adapter reports about itself and its cluster.
type Heartbeat struct {
	// Status is "up", or "down" when the adapter cannot do its job
	// (Error says why).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Interval is how often the adapter heartbeats.
	Interval time.Duration `json:"interval"`
	Time     time.Time     `json:"time"`
	// Since is when Status last changed.
	Since time.Time `json:"since"`
	// LastSync is when the adapter last completed a full synchronisation.
	LastSync   time.Time         `json:"last_sync,omitempty"`
	Kubernetes string            `json:"kubernetes_version,omitempty"`
	APIs       map[string]string `json:"apis,omitempty"`
	Counts     map[string]int    `json:"counts,omitempty"`
	Adapter    string            `json:"adapter_version,omitempty"`
}

// InventoryDigest is the manager's copy of a cluster's inventory in
// brief: the revision an adapter's next write is conditioned on, and the
// hash of every object, by object id, from which the adapter computes
// what differs.
type InventoryDigest struct {
	Revision int64             `json:"revision"`
	Objects  map[string]string `json:"objects"`
}

// InventoryWrite is an adapter's change to its cluster's inventory.
type InventoryWrite struct {
	// BaseRevision is the inventory revision the change is based on (from
	// the digest, or the previous write).
	BaseRevision int64 `json:"base_revision"`
	// Sync marks the end of a full synchronisation.
	Sync bool `json:"sync,omitempty"`
	// Upserts are objects in their stored form.
	Upserts []json.RawMessage `json:"upserts,omitempty"`
	// Deletes are object ids: kind/namespace/name.
	Deletes []string `json:"deletes,omitempty"`
}

// AgentReport is what an agent says about its realization.
type AgentReport struct {
	// State is "success" or "error" (Error says why).
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// Revision and Digest identify the span the agent enforces.
	Revision int64     `json:"revision"`
	Digest   string    `json:"digest"`
	Realized time.Time `json:"realized,omitzero"`
	Rules    int       `json:"rules"`
	Elements int       `json:"elements"`
	// Counters are per rule path, summed over the agent's hooks, since
	// the agent started. Only rules of the agent's span are kept.
	Counters map[string]RuleCounters `json:"rule_statistics,omitempty"`
	VM       *VMFacts                `json:"vm,omitempty"`
	Interval time.Duration           `json:"interval"`
	Time     time.Time               `json:"time"`
	// Dropped counts the counters the manager did not keep: rules that
	// are not in the agent's span.
	Dropped int `json:"dropped_counters,omitempty"`
	// Mode is what the host's table holds: one of the Mode constants.
	Mode string `json:"mode,omitempty"`
}

// Modes an agent reports: what its host's table holds.
const (
	ModeEnforcing  = "enforcing"   // a span this run applied
	ModeKept       = "kept"        // the table an earlier run applied
	ModeFailClosed = "fail-closed" // nothing applied: new connections dropped
	ModeFailOpen   = "fail-open"   // nothing applied: nothing enforced
)

// RuleCounters count what a rule decided.
type RuleCounters struct {
	Packets uint64 `json:"packet_count"`
	Bytes   uint64 `json:"byte_count"`
}

// VMFacts is what a VM's agent reports about its host.
type VMFacts struct {
	Addresses []netip.Addr `json:"ip_addresses"`
	// OSName and ComputerName as the agent sees them: shown, never used
	// to select the VM.
	OSName       string `json:"os_name,omitempty"`
	ComputerName string `json:"computer_name,omitempty"`
	// Tags is refused when set: an agent does not choose its tags. It is
	// decoded rather than unknown so the refusal can say why.
	Tags []model.Tag `json:"tags,omitempty"`
}

// MaxVMAddresses bounds the addresses one VM may report (and be allowed).
const MaxVMAddresses = 64
