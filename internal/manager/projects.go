package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/store"
)

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

// PutProject creates or replaces a project. Project ids are unique
// whatever their case: groups match the pseudo-cluster of a project's VMs
// as NSX matches names, without case, so projects Dev and dev would select
// each other's VMs. Tier0s are the provider's tier-0 gateways the project
// may connect its tier-1s to; a grant a tier-1 of the project uses cannot
// be withdrawn.
func (m *Manager) PutProject(ctx context.Context, p Project) (Project, error) {
	if !idPattern.MatchString(p.ID) {
		return p, &WriteError{Kind: ErrInvalid, Message: fmt.Sprintf("project id %q: use letters, digits, '.', '_' and '-' (at most 63)", p.ID)}
	}
	if errs := model.CheckMeta(model.Space(p.ID), &model.Meta{DisplayName: p.DisplayName, Description: p.Description, Tags: p.Tags}); len(errs) > 0 {
		return p, &WriteError{Kind: ErrInvalid, Message: "the project's text is refused", Details: errs}
	}
	if err := m.checkProjectTier0s(p); err != nil {
		return p, err
	}
	// With this manager's configuration writes, so a grant and a write
	// that uses it are decided one after the other (the store conditions
	// hold it across managers).
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	for attempt := 0; ; attempt++ {
		conds, err := m.projectConds(ctx, p)
		if err != nil {
			return p, err
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
		rev, err := m.st.Commit(ctx, conds, []store.Op{{Key: store.ProjectsPrefix + p.ID, Value: b}})
		if errors.Is(err, store.ErrConflict) && attempt < maxRetries {
			continue // projects or the configuration changed since they were read
		}
		if err != nil {
			return p, err
		}
		if err := m.WaitApplied(ctx, rev); err != nil {
			return p, err
		}
		got, _ := m.Project(p.ID)
		return got, nil
	}
}

// projectConds checks p's id against the stored projects and its grants
// against the project's tier-1s, and returns the conditions that keep
// those checks true until the write.
func (m *Manager) projectConds(ctx context.Context, p Project) ([]store.Cond, error) {
	kvs, rev, err := m.st.List(ctx, store.ProjectsPrefix)
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		id := strings.TrimPrefix(kv.Key, store.ProjectsPrefix)
		if id != p.ID && strings.EqualFold(id, p.ID) {
			return nil, &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("project %q exists: project ids differ by more than case", id)}
		}
	}
	m.mu.RLock()
	cfg, configRev := m.cfg, m.configRev
	m.mu.RUnlock()
	granted := map[string]bool{}
	for _, t := range p.Tier0s {
		granted[t] = true
	}
	prefix := model.Space(p.ID) + "/"
	for _, path := range model.Paths(cfg.Tier1s) {
		if t := cfg.Tier1s[path]; strings.HasPrefix(path, prefix) && t.Tier0Path != "" && !granted[t.Tier0Path] {
			return nil, &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("tier_0s: %s is connected to %s; disconnect it before withdrawing the grant", path, t.Tier0Path)}
		}
	}
	return []store.Cond{{Key: store.ProjectsPrefix, NotAfter: &rev}, {Key: store.ConfigRevKey, ModRevision: &configRev}}, nil
}

// maxProjectTier0s bounds a project's grants.
const maxProjectTier0s = 64

func (m *Manager) checkProjectTier0s(p Project) error {
	if len(p.Tier0s) > maxProjectTier0s {
		return invalidf("tier_0s: at most %d tier-0 gateways", maxProjectTier0s)
	}
	m.mu.RLock()
	cfg := m.cfg
	m.mu.RUnlock()
	seen := map[string]bool{}
	for i, t := range p.Tier0s {
		r, err := model.ParsePath(t)
		switch {
		case err != nil:
			return invalidf("tier_0s[%d]: %v", i, err)
		case r.Kind != model.KindTier0 || r.Project != "":
			return invalidf("tier_0s[%d]: %s is not a provider tier-0 (/infra/tier-0s/ID)", i, t)
		case seen[t]:
			return invalidf("tier_0s[%d]: %s is listed twice", i, t)
		}
		seen[t] = true
		if _, ok := cfg.Tier0s[t]; !ok {
			return &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("tier_0s[%d]: %s does not exist", i, t)}
		}
	}
	return nil
}

// DeleteProject removes an empty project (no objects, no agents) and its
// tokens. The tokens are
// read from the store and the deletion is conditioned on no token being
// written since, so a token issued for the project meanwhile cannot
// outlive it and act in a project created again under the same id.
func (m *Manager) DeleteProject(ctx context.Context, id string) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	for attempt := 0; ; attempt++ {
		conds, ops, err := m.projectDeletion(ctx, id)
		if err != nil {
			return err
		}
		rev, err := m.st.Commit(ctx, conds, ops)
		if errors.Is(err, store.ErrConflict) && attempt < maxRetries {
			continue
		}
		if errors.Is(err, store.ErrConflict) {
			return &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("project %q or its tokens kept changing while it was deleted; try again", id)}
		}
		if err != nil {
			return err
		}
		return m.WaitApplied(ctx, rev)
	}
}

func (m *Manager) projectDeletion(ctx context.Context, id string) ([]store.Cond, []store.Op, error) {
	if _, ok := m.Project(id); !ok {
		return nil, nil, &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("project %q does not exist", id)}
	}
	prefix := model.Space(id) + "/"
	m.mu.RLock()
	configRev := m.configRev
	n := 0
	for p := range m.meta {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	m.mu.RUnlock()
	if n > 0 {
		return nil, nil, &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("project %q still holds %d objects; delete them first", id, n)}
	}
	// Agents of the project are not deleted with it: they are machines an
	// admin deregisters (and uninstalls). A project created again under
	// the same id must not inherit them, so they must go first.
	agents, agentsRev, err := m.st.List(ctx, store.AgentsPrefix)
	if err != nil {
		return nil, nil, err
	}
	var held []string
	for _, kv := range agents {
		var a Agent
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			return nil, nil, fmt.Errorf("agent record %s cannot be read: %w", kv.Key, err)
		}
		if a.Project == id {
			held = append(held, a.Name)
		}
	}
	if len(held) > 0 {
		return nil, nil, &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("project %q still has %d agents (%s); deregister them first (kordon agent deregister NAME)",
			id, len(held), strings.Join(held[:min(len(held), 5)], ", "))}
	}
	kvs, rev, err := m.st.List(ctx, store.TokensPrefix)
	if err != nil {
		return nil, nil, err
	}
	ops := []store.Op{{Key: store.ProjectsPrefix + id, Delete: true}}
	for _, kv := range kvs {
		var t Token
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return nil, nil, fmt.Errorf("token record %s cannot be read: %w", kv.Key, err)
		}
		if t.Project == id {
			ops = append(ops, store.Op{Key: kv.Key, Delete: true}, store.Op{Key: store.TokenUsedPrefix + t.ID, Delete: true})
			// The token's sessions go with it (they would authenticate
			// nobody, but their records would stay).
			m.mu.RLock()
			ops = append(ops, m.sessionOpsOfLocked(t.ID)...)
			m.mu.RUnlock()
		}
	}
	conds := []store.Cond{
		{Key: store.ProjectsPrefix + id, Exists: true},
		{Key: store.TokensPrefix, NotAfter: &rev},
		{Key: store.AgentsPrefix, NotAfter: &agentsRev},
		// No object was written into the project since it was found empty.
		{Key: store.ConfigRevKey, ModRevision: &configRev},
	}
	return conds, ops, nil
}
