package manager

import (
	"regexp"
	"time"

	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/wire"
)

// Project is a tenant space (NSX multi-tenancy): its objects live under
// /orgs/default/projects/<id>/infra and are invisible to other projects.
type Project struct {
	ID          string      `json:"id"`
	DisplayName string      `json:"display_name,omitempty"`
	Description string      `json:"description,omitempty"`
	Tags        []model.Tag `json:"tags,omitempty"`
	// Tier0s are the provider's tier-0 gateways the project's tier-1s may
	// connect to (NSX's tier_0s): granted by the provider, never by the
	// project.
	Tier0s           []string `json:"tier_0s,omitempty"`
	Path             string   `json:"path,omitempty"`
	ResourceType     string   `json:"resource_type,omitempty"`
	Revision         int64    `json:"_revision"`
	CreateTime       int64    `json:"_create_time,omitempty"`
	LastModifiedTime int64    `json:"_last_modified_time,omitempty"`

	// modRevision is the store revision of the record as folded: a write
	// decided from the record (its grants) is conditioned on it.
	modRevision int64
}

// Cluster is a cluster kordon holds inventory of.
type Cluster struct {
	Name string `json:"name"`
	// ID is what NSX shows as the cluster's external_id.
	ID string `json:"id"`
	// Source says where the inventory comes from: "adapter", "inventory-dir"
	// or "demo".
	Source     string    `json:"source"`
	Demo       bool      `json:"demo,omitempty"`
	Registered time.Time `json:"registered"`
	// CertSerial is the serial of the cluster's identity certificate;
	// requests with another certificate are refused.
	CertSerial string `json:"cert_serial,omitempty"`
}

// Cluster sources.
const (
	SourceAdapter   = "adapter"
	SourceInProcess = "in-process"
	SourceDir       = "inventory-dir"
	SourceDemo      = "demo"
)

// Cluster states, as NSX reports them.
const (
	StateUp      = "Up"
	StateDown    = "Down"
	StateUnknown = "Unknown"
)

// ClusterStatus is a cluster with its health.
type ClusterStatus struct {
	Cluster
	State     string          `json:"state"`
	Since     time.Time       `json:"since,omitzero"`
	Reason    string          `json:"reason,omitempty"`
	Heartbeat *wire.Heartbeat `json:"last_heartbeat,omitempty"`
	Objects   map[string]int  `json:"objects"`
}

// Credentials are a cluster's identity: a client certificate whose common
// name is the cluster, and its key.
type Credentials struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// ObjectMeta is what the store knows of an object beyond its content.
type ObjectMeta struct {
	// Revision is NSX's _revision: 0 when created, +1 per update.
	Revision    int64
	ModRevision int64
}

// GroupStatus is a group's realization state.
type GroupStatus struct {
	// Revision is the store revision its members were computed at.
	Revision int64
	// LastChange is when its members last changed (zero: never since this
	// manager started).
	LastChange time.Time
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
