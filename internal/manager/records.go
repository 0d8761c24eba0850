package manager

import (
	"time"

	"github.com/kordon-dev/kordon/internal/model"
)

// Project is a tenant space (NSX multi-tenancy): its objects live under
// /orgs/default/projects/<id>/infra and are invisible to other projects.
type Project struct {
	ID               string      `json:"id"`
	DisplayName      string      `json:"display_name,omitempty"`
	Description      string      `json:"description,omitempty"`
	Tags             []model.Tag `json:"tags,omitempty"`
	Path             string      `json:"path,omitempty"`
	ResourceType     string      `json:"resource_type,omitempty"`
	Revision         int64       `json:"_revision"`
	CreateTime       int64       `json:"_create_time,omitempty"`
	LastModifiedTime int64       `json:"_last_modified_time,omitempty"`
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
}

// Token is a stored API token (its hash, never the token).
type Token struct {
	ID          string    `json:"id"`
	Hash        string    `json:"hash"`
	Role        string    `json:"role"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
}

// Roles a token can have.
const (
	RoleAdmin  = "admin"
	RoleReader = "reader"
)

// Principal is an authenticated caller.
type Principal struct {
	Name string
	Role string
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
