package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/store"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// LicenseStatus is the installed license and whether it is valid.
type LicenseStatus struct {
	License *license.License `json:"license,omitempty"`
	Valid   bool             `json:"valid"`
	Error   string           `json:"error,omitempty"`
	// Features in force now.
	Active []string `json:"active_features"`
}

// License describes the installed license.
func (m *Manager) License() LicenseStatus {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := LicenseStatus{License: m.lic, Valid: m.lic != nil, Active: []string{}}
	if m.licErr != nil {
		s.Error = m.licErr.Error()
	}
	for _, f := range license.Known {
		if m.lic.Grants(f, m.now()) == nil {
			s.Active = append(s.Active, f)
		}
	}
	return s
}

// InstallLicense verifies and stores a license.
func (m *Manager) InstallLicense(ctx context.Context, l license.License) error {
	m.mu.RLock()
	trusted := m.trustedLocked()
	m.mu.RUnlock()
	if err := license.Verify(l, trusted); err != nil {
		return &WriteError{Kind: ErrInvalid, Message: err.Error() + " (start the manager with --license-trust KEY.pub for your signing key)"}
	}
	if !m.now().Before(l.Expires) {
		return &WriteError{Kind: ErrInvalid, Message: fmt.Sprintf("license %s expired on %s", l.ID, l.Expires.Format("2006-01-02"))}
	}
	b, _ := json.Marshal(l)
	rev, err := m.st.Commit(ctx, nil, []store.Op{{Key: store.LicenseKey, Value: b}})
	if err != nil {
		return err
	}
	return m.WaitApplied(ctx, rev)
}

// Projects returns the projects, sorted by id.
func (m *Manager) Projects() []Project {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Project, 0, len(m.projects))
	for _, p := range m.projects {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Project returns one project.
func (m *Manager) Project(id string) (Project, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p, ok := m.projects[id]
	if !ok {
		return Project{}, false
	}
	return *p, true
}

// PutProject creates or replaces a project.
func (m *Manager) PutProject(ctx context.Context, p Project) (Project, error) {
	if !idPattern.MatchString(p.ID) {
		return p, &WriteError{Kind: ErrInvalid, Message: fmt.Sprintf("project id %q: use letters, digits, '.', '_' and '-' (at most 63)", p.ID)}
	}
	now := m.now().UnixMilli()
	if old, ok := m.Project(p.ID); ok {
		p.CreateTime = old.CreateTime
	} else {
		p.CreateTime = now
	}
	p.LastModifiedTime, p.Path, p.ResourceType = now, model.Space(p.ID), "Project"
	if p.DisplayName == "" {
		p.DisplayName = p.ID
	}
	b, _ := json.Marshal(p)
	rev, err := m.st.Commit(ctx, nil, []store.Op{{Key: store.ProjectsPrefix + p.ID, Value: b}})
	if err != nil {
		return p, err
	}
	if err := m.WaitApplied(ctx, rev); err != nil {
		return p, err
	}
	got, _ := m.Project(p.ID)
	return got, nil
}

// DeleteProject removes an empty project.
func (m *Manager) DeleteProject(ctx context.Context, id string) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	if _, ok := m.Project(id); !ok {
		return &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("project %q does not exist", id)}
	}
	prefix := model.Space(id) + "/"
	m.mu.RLock()
	n := 0
	for p := range m.meta {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	m.mu.RUnlock()
	if n > 0 {
		return &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("project %q still holds %d objects; delete them first", id, n)}
	}
	// The project's tokens go with it: a project created again under the
	// same id must not inherit them.
	ops := []store.Op{{Key: store.ProjectsPrefix + id, Delete: true}}
	for _, t := range m.Tokens() {
		if t.Project == id {
			ops = append(ops, store.Op{Key: store.TokensPrefix + t.ID, Delete: true}, store.Op{Key: store.TokenUsedPrefix + t.ID, Delete: true})
		}
	}
	rev, err := m.st.Commit(ctx, nil, ops)
	if err != nil {
		return err
	}
	return m.WaitApplied(ctx, rev)
}

// Clusters returns the clusters, sorted by name.
func (m *Manager) Clusters() []Cluster {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Cluster, 0, len(m.clusters))
	for _, c := range m.clusters {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SyncCluster stores a cluster's record and makes its stored inventory
// exactly objs, in one transaction: a full synchronisation is never seen
// half applied. Only what differs is written.
func (m *Manager) SyncCluster(ctx context.Context, c Cluster, objs []inventory.Object) (int64, error) {
	current, _, err := m.st.List(ctx, store.ClusterInventoryPrefix(c.Name))
	if err != nil {
		return 0, err
	}
	have := make(map[string][]byte, len(current))
	for _, kv := range current {
		have[kv.Key] = kv.Value
	}
	var ops []store.Op
	if rec, ok, err := m.st.Get(ctx, store.ClustersPrefix+c.Name); err != nil {
		return 0, err
	} else if !ok || !sameCluster(rec.Value, c) {
		if ok {
			var old Cluster
			if json.Unmarshal(rec.Value, &old) == nil {
				c.ID, c.Registered = old.ID, old.Registered
			}
		}
		b, _ := json.Marshal(c)
		ops = append(ops, store.Op{Key: store.ClustersPrefix + c.Name, Value: b})
	}
	want := make(map[string]bool, len(objs))
	for _, o := range objs {
		o.GetMeta().Cluster = c.Name
		k := inventoryKey(inventory.KeyOf(o))
		b, err := encodeInventory(o)
		if err != nil {
			return 0, err
		}
		want[k] = true
		if string(have[k]) != string(b) {
			ops = append(ops, store.Op{Key: k, Value: b})
		}
	}
	for k := range have {
		if !want[k] {
			ops = append(ops, store.Op{Key: k, Delete: true})
		}
	}
	if len(ops) == 0 {
		return m.Revision(), nil
	}
	rev, err := m.st.Commit(ctx, nil, ops)
	if err != nil {
		return 0, err
	}
	return rev, m.WaitApplied(ctx, rev)
}

func sameCluster(stored []byte, c Cluster) bool {
	var old Cluster
	if json.Unmarshal(stored, &old) != nil {
		return false
	}
	return old.Source == c.Source && old.Demo == c.Demo
}

// RemoveCluster deletes a cluster's record and inventory in one
// transaction: its members leave every group at once.
func (m *Manager) RemoveCluster(ctx context.Context, name string) error {
	rev, err := m.st.Commit(ctx, nil, clusterRemoval(name))
	if err != nil {
		return err
	}
	return m.WaitApplied(ctx, rev)
}

// UpdateInventory writes changes to a cluster's inventory (objects that
// appeared or changed, keys that went away) in one transaction, and
// waits until they are applied.
func (m *Manager) UpdateInventory(ctx context.Context, cluster string, upserts []inventory.Object, deletes []inventory.Key) (int64, error) {
	ops := make([]store.Op, 0, len(upserts)+len(deletes))
	for _, o := range upserts {
		o.GetMeta().Cluster = cluster
		b, err := encodeInventory(o)
		if err != nil {
			return 0, err
		}
		ops = append(ops, store.Op{Key: inventoryKey(inventory.KeyOf(o)), Value: b})
	}
	for _, k := range deletes {
		k.Cluster = cluster
		ops = append(ops, store.Op{Key: inventoryKey(k), Delete: true})
	}
	if len(ops) == 0 {
		return m.Revision(), nil
	}
	rev, err := m.st.Commit(ctx, nil, ops)
	if err != nil {
		return 0, err
	}
	return rev, m.WaitApplied(ctx, rev)
}
