package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/store"
)

// Error kinds a write can fail with; the API maps them to HTTP statuses.
var (
	// ErrInvalid: the document or the resulting configuration is invalid
	// (Details lists every problem).
	ErrInvalid = errors.New("invalid")
	// ErrNotEntitled: the change needs a license feature that is missing.
	ErrNotEntitled = errors.New("not entitled")
	// ErrStale: an object changed since the _revision the caller sent.
	ErrStale = errors.New("stale revision")
	// ErrNotFound: the object or project does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change conflicts with the state (a project that
	// still holds objects, say).
	ErrConflict = errors.New("conflict")
)

// WriteError is a refused write with every reason.
type WriteError struct {
	Kind    error
	Message string
	Details model.Errors
}

func (e *WriteError) Error() string {
	if len(e.Details) == 0 {
		return e.Message
	}
	return e.Message + ":\n" + e.Details.Error()
}

func (e *WriteError) Unwrap() error { return e.Kind }

// ApplyRequest is a configuration change.
type ApplyRequest struct {
	// Project is the space ("" for the default space).
	Project string
	Doc     *model.Infra
	User    string
	DryRun  bool
	// Expect holds, for objects the caller replaces with PUT, the
	// _revision it last read; a newer revision refuses the change.
	Expect map[string]int64
	// RequireExpect lists paths that must carry an Expect entry when they
	// already exist (a PUT that replaces an object).
	RequireExpect []string
}

// ApplyResult says what a change did (or, for a dry run, would do).
type ApplyResult struct {
	Revision int64          `json:"revision"`
	DryRun   bool           `json:"dry_run"`
	Changes  []model.Change `json:"changes"`
	// Groups: how memberships change (dry runs only).
	Groups []GroupChange `json:"group_changes,omitempty"`
}

// GroupChange is the membership difference a dry run predicts for one
// group.
type GroupChange struct {
	Path  string      `json:"path"`
	Delta *GroupDelta `json:"delta"`
}

const maxRetries = 8

// Apply validates and commits a configuration change. Every problem is
// returned at once as a *WriteError; nothing is written unless the whole
// change is valid.
func (m *Manager) Apply(ctx context.Context, req ApplyRequest) (*ApplyResult, error) {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	for attempt := 0; ; attempt++ {
		res, err := m.tryApply(ctx, req)
		if !errors.Is(err, store.ErrConflict) || attempt == maxRetries {
			return res, err
		}
		// Another manager changed the configuration since we read it:
		// wait for its change and validate again. The store's revision,
		// not ours plus one: the change may already be folded in by now,
		// and no write may follow it.
		cur, err := m.st.Revision(ctx)
		if err != nil {
			return nil, err
		}
		if err := m.WaitApplied(ctx, cur); err != nil {
			return nil, err
		}
	}
}

type snapshot struct {
	cfg  *model.Config
	meta map[string]ObjectMeta
	// stored: the objects stored as a document's bytes made them
	// (applyhash.go), with those bytes' digests.
	stored    map[string]model.Digest
	configRev int64
	projects  map[string]*Project
	lic       *license.License
}

func (m *Manager) snapshot(paths []string) snapshot {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := snapshot{cfg: m.cfg, configRev: m.configRev, meta: map[string]ObjectMeta{}, projects: map[string]*Project{}, lic: m.lic}
	for _, p := range paths {
		if md, ok := m.meta[p]; ok {
			s.meta[p] = md
		}
	}
	// Records are replaced, never modified: sharing them is safe.
	for id, p := range m.projects {
		s.projects[id] = p
	}
	s.stored = m.storedLocked()
	return s
}

func (m *Manager) tryApply(ctx context.Context, req ApplyRequest) (*ApplyResult, error) {
	snap := m.snapshot(append(keys(req.Expect), req.RequireExpect...))
	if req.Project != "" && snap.projects[req.Project] == nil {
		return nil, &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("project %q does not exist (create it first)", req.Project)}
	}
	applied, err := snap.cfg.ApplyWith(req.Project, req.Doc, func(path string, sum model.Digest) bool {
		s, ok := snap.stored[path]
		return ok && s == sum
	})
	if err != nil {
		return nil, &WriteError{Kind: ErrInvalid, Message: "the document cannot be applied", Details: model.AsErrors(err)}
	}
	next, changes := applied.Config, applied.Changes
	if req.Project != "" {
		// Before validation, which would tell a tier-0 that exists from
		// one that does not: a project learns nothing of the provider's
		// space beyond what it was granted.
		if errs := grantedTier0s(snap.projects[req.Project], next, changes); len(errs) > 0 {
			return nil, &WriteError{Kind: ErrInvalid, Message: "the change connects a tier-1 to a tier-0 the project was not granted", Details: errs}
		}
	}
	if errs := m.validate(snap, next, changes); len(errs) > 0 {
		problems := fmt.Sprintf("%d problems", len(errs))
		if len(errs) == 1 {
			problems = "1 problem"
		}
		return nil, &WriteError{Kind: ErrInvalid, Message: "the change would leave the configuration invalid (" + problems + ")", Details: errs}
	}
	if err := entitled(snap.lic, next, changes, m.now()); err != nil {
		return nil, err
	}
	if err := checkExpect(req, snap); err != nil {
		return nil, err
	}
	res := &ApplyResult{Changes: append([]model.Change{}, changes...), DryRun: req.DryRun} // [] not null
	if len(changes) == 0 {
		// Nothing changes (objects written as they are, deletions of what
		// does not exist): nothing is committed and the revision stays.
		res.Revision = m.Revision()
		return res, nil
	}
	if req.DryRun {
		res.Groups, err = m.preview(next, changes)
		res.Revision = m.Revision()
		return res, err
	}
	conds, ops, err := m.ops(req, snap, next, changes)
	if err != nil {
		return nil, err
	}
	rev, err := m.st.Commit(ctx, conds, ops)
	if err != nil {
		if errors.Is(err, store.ErrConflict) && len(req.Expect) > 0 {
			if e := m.recheckExpect(req); e != nil {
				return nil, e
			}
		}
		return nil, err
	}
	m.recordWritten(changes, applied.Sums, rev)
	res.Revision = rev
	return res, m.WaitApplied(ctx, rev)
}

// grantedTier0s checks the tier-1s a project's change writes: each may
// connect only to a tier-0 in the project's tier_0s.
func grantedTier0s(p *Project, next *model.Config, changes []model.Change) model.Errors {
	var errs model.Errors
	for _, c := range changes {
		if c.Op != model.OpUpsert || c.Kind != model.KindTier1 {
			continue
		}
		t := next.Tier1s[c.Path]
		if t == nil || t.Tier0Path == "" || slices.Contains(p.Tier0s, t.Tier0Path) {
			continue
		}
		errs = append(errs, model.Error{Path: c.Path, Field: "tier0_path",
			Reason: fmt.Sprintf("%s is not one of project %s's tier_0s (the provider grants them on the project)", t.Tier0Path, p.ID)})
	}
	return errs
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func checkExpect(req ApplyRequest, snap snapshot) error {
	for _, p := range req.RequireExpect {
		if _, exists := snap.meta[p]; exists {
			if _, ok := req.Expect[p]; !ok {
				return &WriteError{Kind: ErrStale, Message: fmt.Sprintf("%s exists: replacing it needs the _revision you last read (GET it first)", p)}
			}
		}
	}
	for p, want := range req.Expect {
		md, exists := snap.meta[p]
		if !exists {
			continue // a PUT that creates
		}
		if md.Revision != want {
			return &WriteError{Kind: ErrStale, Message: fmt.Sprintf("%s was modified by somebody else: its _revision is %d, the request has %d; GET it again and retry", p, md.Revision, want)}
		}
	}
	return nil
}

func (m *Manager) recheckExpect(req ApplyRequest) error {
	return checkExpect(req, m.snapshot(keys(req.Expect)))
}

// entitled checks the license for every object the change writes:
// distributed firewall policies and rules need DFW, gateway policies and
// rules GFW, and groups with Kubernetes member types either. Deletions
// are always allowed, and nothing checks what is already configured: an
// expired license never stops enforcement.
func entitled(lic *license.License, next *model.Config, changes []model.Change, now time.Time) error {
	var errs model.Errors
	seen := map[string]bool{}
	need := func(path, feature string) {
		if err := lic.Grants(feature, now); err != nil && !seen[feature] {
			seen[feature] = true
			errs = append(errs, model.Error{Path: path, Reason: err.Error()})
		}
	}
	for _, c := range changes {
		if c.Op != model.OpUpsert {
			continue
		}
		switch c.Kind {
		case model.KindSecurityPolicy:
			need(c.Path, license.DFW)
		case model.KindGatewayPolicy:
			need(c.Path, license.GFW)
		case model.KindRule:
			r, _ := model.ParsePath(c.Path)
			if r.PolicyKind == model.KindGatewayPolicy {
				need(c.Path, license.GFW)
			} else {
				need(c.Path, license.DFW)
			}
		case model.KindGroup:
			if g := next.Groups[c.Path]; g != nil && usesKubernetes(g.Expression) {
				if lic.Grants(license.DFW, now) != nil && lic.Grants(license.GFW, now) != nil {
					need(c.Path, license.DFW)
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &WriteError{Kind: ErrNotEntitled, Message: "the change needs a security license entitlement", Details: errs}
}

func usesKubernetes(l model.ExpressionList) bool {
	for _, e := range l {
		switch x := e.(type) {
		case *model.Condition:
			if model.IsKubernetesMemberType(x.MemberType) {
				return true
			}
		case *model.NestedExpression:
			if usesKubernetes(x.Expressions) {
				return true
			}
		}
	}
	return false
}

// ops turns changes into store writes, stamping creation and modification
// times and users, conditioned on the configuration not having changed
// since it was validated (and on the _revisions the caller expects).
func (m *Manager) ops(req ApplyRequest, snap snapshot, next *model.Config, changes []model.Change) ([]store.Cond, []store.Op, error) {
	now := m.now().UnixMilli()
	configRev := snap.configRev
	conds := []store.Cond{{Key: store.ConfigRevKey, ModRevision: &configRev}}
	if req.Project != "" {
		// Nothing is written into a project deleted, or whose grants
		// changed, since it was read: the record is the one validated
		// against (its ModRevision, which a deletion and re-creation
		// changes too).
		mod := snap.projects[req.Project].modRevision
		conds = append(conds, store.Cond{Key: store.ProjectsPrefix + req.Project, ModRevision: &mod})
	}
	for p, want := range req.Expect {
		if _, exists := snap.meta[p]; exists {
			v := want + 1
			conds = append(conds, store.Cond{Key: store.ObjectKey(p), Version: &v})
		}
	}
	final := map[string]model.Change{}
	for _, c := range changes {
		final[c.Path] = c
	}
	var ops []store.Op
	ids := &ruleIDs{prev: snap.cfg}
	for _, p := range keys(final) {
		c := final[p]
		if c.Op == model.OpDelete {
			if _, ok := snap.cfg.Object(p); ok {
				ops = append(ops, store.Op{Key: store.ObjectKey(p), Delete: true})
			}
			continue
		}
		o, ok := next.Object(p)
		if !ok {
			continue
		}
		b, err := m.stamped(o, snap.cfg, req.User, now, ids)
		if err != nil {
			return nil, nil, err
		}
		ops = append(ops, store.Op{Key: store.ObjectKey(p), Value: b})
	}
	ops = append(ops, store.Op{Key: store.ConfigRevKey, Value: []byte(fmt.Sprint(now))})
	return conds, ops, nil
}

// stamped encodes an object with its creation and modification stamps
// and, for a rule, its rule_id. The object is copied: objects in a Config
// are never modified.
func (m *Manager) stamped(o model.Object, prev *model.Config, user string, now int64, ids *ruleIDs) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	created, createdBy := now, user
	if old, ok := prev.Object(o.GetMeta().Path); ok {
		if om := old.GetMeta(); om.CreateTime != 0 {
			created, createdBy = om.CreateTime, om.CreateUser
		}
	}
	set := func(k string, v any) { fields[k], _ = json.Marshal(v) }
	set("_create_time", created)
	set("_create_user", createdBy)
	set("_last_modified_time", now)
	set("_last_modified_user", user)
	if _, ok := o.(*model.Rule); ok {
		set("rule_id", ids.of(o.GetMeta().Path))
	}
	delete(fields, "_revision")
	return json.Marshal(fields)
}

// firstRuleID is the rule_id of the first rule created (NSX's local
// managers number rules from 1000 too).
const firstRuleID = 1000

// ruleIDs hands out NSX's rule_id: a positive integer, unique in the
// installation, given to a rule when it is created and kept while it
// exists (a document's rule_id is ignored, like its other stamps). A new
// rule gets one more than the highest in use; the write is conditioned on
// the configuration the highest was read from, so two writers never give
// out the same one.
type ruleIDs struct {
	prev *model.Config
	next int64
}

func (a *ruleIDs) of(path string) int64 {
	if r, ok := a.prev.Rules[path]; ok && r.RuleID > 0 {
		return r.RuleID
	}
	if a.next == 0 {
		a.next = firstRuleID
		for _, r := range a.prev.Rules {
			a.next = max(a.next, r.RuleID+1)
		}
	}
	a.next++
	return a.next - 1
}

// preview computes the membership changes a configuration change would
// make, without making it.
func (m *Manager) preview(next *model.Config, changes []model.Change) ([]GroupChange, error) {
	defs := map[string]*model.Group{}
	for _, c := range changes {
		if c.Kind != model.KindGroup {
			continue
		}
		defs[c.Path] = next.Groups[c.Path] // nil when deleted
	}
	if len(defs) == 0 {
		return nil, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	after, err := m.idx.Preview(defs)
	if err != nil {
		return nil, err
	}
	var out []GroupChange
	for _, p := range keys(after) {
		d := diffContent(p, m.idx.Content(p), after[p])
		if !d.Empty() {
			out = append(out, GroupChange{Path: p, Delta: groupDelta(d)})
		}
	}
	return out, nil
}

func diffContent(path string, before, after membership.Content) membership.Delta {
	d := membership.Delta{Group: path}
	d.AddedMembers, d.RemovedMembers = diff(before.Members, after.Members)
	d.AddedAddresses, d.RemovedAddresses = diff(before.Ranges, after.Ranges)
	d.AddedIPPorts, d.RemovedIPPorts = diff(before.IPPorts, after.IPPorts)
	return d
}

func diff[T comparable](before, after []T) (added, removed []T) {
	b := map[T]bool{}
	for _, x := range before {
		b[x] = true
	}
	a := map[T]bool{}
	for _, x := range after {
		a[x] = true
		if !b[x] {
			added = append(added, x)
		}
	}
	for _, x := range before {
		if !a[x] {
			removed = append(removed, x)
		}
	}
	return added, removed
}
