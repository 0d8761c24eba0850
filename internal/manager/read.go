package manager

import (
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
)

// View is a consistent read of the state. It is valid only inside the
// function given to Read, which holds the state still.
type View struct{ m *Manager }

// Read runs fn with a consistent view of the state. fn must not write.
func (m *Manager) Read(fn func(v View)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	fn(View{m})
}

// Config returns the configuration. It is immutable and may be kept
// after Read returns.
func (v View) Config() *model.Config { return v.m.cfg }

// Meta returns what the store knows of an object.
func (v View) Meta(path string) (ObjectMeta, bool) {
	md, ok := v.m.meta[path]
	return md, ok
}

// Index returns the membership index (only valid inside Read).
func (v View) Index() *membership.Index { return v.m.idx }

// Revision is the store revision the view reflects.
func (v View) Revision() int64 { return v.m.rev }

// GroupStatus returns a group's realization state.
func (v View) GroupStatus(path string) (GroupStatus, bool) {
	s, ok := v.m.status[path]
	s.Revision = v.m.rev
	return s, ok
}

// ClusterID returns a cluster's external id (its name when it has no
// record or no id).
func (v View) ClusterID(name string) string {
	if c, ok := v.m.clusters[name]; ok && c.ID != "" {
		return c.ID
	}
	return name
}

// ClusterByID returns the name of the cluster with an external id or name.
func (v View) ClusterByID(id string) (string, bool) {
	for name, c := range v.m.clusters {
		if c.ID == id || name == id {
			return name, true
		}
	}
	for _, name := range v.m.idx.Clusters() {
		if name == id {
			return name, true
		}
	}
	return "", false
}

// ProjectExists reports whether a project exists.
func (v View) ProjectExists(id string) bool {
	_, ok := v.m.projects[id]
	return ok
}

// ClusterState returns a registered cluster's state (Up, Down or
// Unknown), as cluster list shows it.
func (v View) ClusterState(name string) (string, bool) {
	c, ok := v.m.clusters[name]
	if !ok {
		return "", false
	}
	return v.m.clusterStatusLocked(c, v.m.now()).State, true
}
