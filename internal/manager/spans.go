package manager

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/realization"
)

// Spans flow from membership deltas. A membership change reaches an
// agent's span as element changes: apply computes again only the sets
// that name a changed group (once each, whichever agents share them),
// puts them in the spans that hold them and publishes each new span with
// the delta from the one before, so an agent's long poll only reads what
// apply published. No rule is compiled for it. What can change rules
// retires spans instead, which are compiled again when first read: a
// configuration change, an agent's record, and, on a VM, a change of
// whether an Applied To group holds one of its addresses.

// spanHistory is how many earlier spans of an agent are kept for deltas:
// an agent up to that many membership changes behind gets a delta rather
// than a snapshot.
const spanHistory = 4

// spanEntry is an agent's published span. It is never modified: a change
// publishes a new entry.
type spanEntry struct {
	span *realization.Span
	// groups are the groups the span reads: the sets' groups and, on a
	// VM, every group an Applied To names.
	groups map[string]bool
	// earlier are the spans this one follows from by element changes
	// alone, oldest first.
	earlier []*realization.Span
}

// spanLocked returns an agent's span for the current state, at the
// current revision, computing it when none is published (a new agent, or
// a span retired by a change).
func (m *Manager) spanLocked(a *Agent) *realization.Span {
	e := m.spanEntryLocked(a)
	s := *e.span
	s.Revision = m.rev
	return &s
}

func (m *Manager) spanEntryLocked(a *Agent) *spanEntry {
	m.spanMu.Lock()
	e := m.spans[a.Name]
	m.spanMu.Unlock()
	if e != nil {
		return e
	}
	e = m.computeSpanLocked(a)
	m.spanMu.Lock()
	defer m.spanMu.Unlock()
	if cur := m.spans[a.Name]; cur != nil {
		return cur // another reader computed it meanwhile
	}
	// A recomputed span that differs from the retired one only in
	// elements keeps the history, so the agent still gets a delta.
	if old := m.retired[a.Name]; old != nil {
		if _, ok := realization.Diff(old.span, e.span); ok {
			e.earlier = history(old)
		}
		delete(m.retired, a.Name)
	}
	m.spans[a.Name] = e
	return e
}

// history is the earlier spans of the entry that follows e: a new slice,
// since entries are shared with readers.
func history(e *spanEntry) []*realization.Span {
	keep := e.earlier[max(0, len(e.earlier)-spanHistory+1):]
	h := make([]*realization.Span, 0, len(keep)+1)
	return append(append(h, keep...), e.span)
}

func (m *Manager) computeSpanLocked(a *Agent) *spanEntry {
	m.metrics.spanComputed()
	var s *realization.Span
	groups := map[string]bool{}
	if a.Role == realization.RoleGateway {
		s = realization.ForGateway(m.cfg, m.idx, m.rev, a.Gateway)
	} else {
		s = realization.ForVM(m.cfg, m.idx, m.rev, a.Name, a.Project, m.vmAddrs[a.Name])
		for g := range m.scopeGroupsLocked() {
			groups[g] = true
		}
	}
	for _, st := range s.Sets {
		for _, n := range st.Names {
			groups[n] = true
		}
	}
	return &spanEntry{span: s, groups: groups}
}

// scopeGroupsLocked returns the groups an Applied To names, computed once
// per configuration.
func (m *Manager) scopeGroupsLocked() map[string]bool {
	m.spanMu.Lock()
	defer m.spanMu.Unlock()
	if m.scopeOf == m.cfg && m.scopeGroups != nil {
		return m.scopeGroups
	}
	groups := map[string]bool{}
	for _, sp := range m.cfg.SecurityPolicies {
		for _, g := range sp.Scope {
			groups[g] = true
		}
	}
	for _, r := range m.cfg.Rules {
		for _, g := range r.Scope {
			groups[g] = true
		}
	}
	m.scopeGroups, m.scopeOf = groups, m.cfg
	return groups
}

// retireSpan retires an agent's span: it is computed again when read.
func (m *Manager) retireSpan(name string) {
	m.spanMu.Lock()
	defer m.spanMu.Unlock()
	if e := m.spans[name]; e != nil {
		m.retired[name] = e
		delete(m.spans, name)
	}
}

// dropSpan forgets a deregistered agent's spans.
func (m *Manager) dropSpan(name string) {
	m.spanMu.Lock()
	defer m.spanMu.Unlock()
	delete(m.spans, name)
	delete(m.retired, name)
}

// forgetSpansOfGoneAgentsLocked drops the spans of agents that no longer
// exist (after a reload).
func (m *Manager) forgetSpansOfGoneAgentsLocked() {
	m.spanMu.Lock()
	defer m.spanMu.Unlock()
	for name := range m.retired {
		if m.agents[name] == nil {
			delete(m.retired, name)
		}
	}
}

// retireTouchedLocked retires the spans a configuration change may
// touch, judged from the objects it changed (paths) in the configuration
// before it and now: the gateways a changed gateway policy or rule is
// scoped to (then or now); every VM of the space of a changed security
// policy or rule (every VM, for the provider's, which apply in projects
// too); every gateway when a gateway changed; every span for a service
// or domain. A group's definition retires nothing here: what it changes
// is its members, whose deltas reach the spans like any membership
// change (patchSpansLocked), Applied To included.
func (m *Manager) retireTouchedLocked(before *model.Config, paths []string) {
	gateways := map[string]bool{}
	vmSpaces := map[string]bool{}
	allVMs, allGateways := false, false
	for _, p := range paths {
		r, err := model.ParsePath(p)
		if err != nil {
			m.retireSpansLocked()
			return
		}
		kind := r.Kind
		if kind == model.KindRule {
			kind = r.PolicyKind
		}
		switch kind {
		case model.KindGroup:
		case model.KindSecurityPolicy:
			if r.Project == "" {
				allVMs = true
			}
			vmSpaces[r.Project] = true
		case model.KindGatewayPolicy:
			policy := model.Ref{Project: r.Project, Domain: r.Domain, Kind: model.KindGatewayPolicy, ID: r.ID}.Path()
			if r.Kind == model.KindRule {
				policy = model.Ref{Project: r.Project, Domain: r.Domain, Kind: model.KindGatewayPolicy, ID: r.Policy}.Path()
			}
			for _, cfg := range []*model.Config{before, m.cfg} {
				gatewayScopes(cfg, policy, gateways)
			}
		case model.KindTier0, model.KindTier1:
			allGateways = true
		default:
			m.retireSpansLocked()
			return
		}
	}
	m.spanMu.Lock()
	defer m.spanMu.Unlock()
	for name, e := range m.spans {
		a := m.agents[name]
		switch {
		case a == nil:
		case a.Role == realization.RoleGateway && !allGateways && !gateways[a.Gateway]:
			continue
		case a.Role == realization.RoleVM && !allVMs && !vmSpaces[a.Project]:
			continue
		}
		m.retired[name] = e
		delete(m.spans, name)
	}
}

// gatewayScopes adds the gateways a gateway policy and its rules are
// scoped to in cfg.
func gatewayScopes(cfg *model.Config, policy string, out map[string]bool) {
	if gp := cfg.GatewayPolicies[policy]; gp != nil {
		for _, g := range gp.Scope {
			out[g] = true
		}
	}
	prefix := policy + "/rules/"
	for p, r := range cfg.Rules {
		if strings.HasPrefix(p, prefix) {
			for _, g := range r.Scope {
				out[g] = true
			}
		}
	}
}

// retireSpansLocked retires every span.
func (m *Manager) retireSpansLocked() {
	m.spanMu.Lock()
	defer m.spanMu.Unlock()
	for name, e := range m.spans {
		m.retired[name] = e
	}
	clear(m.spans)
}

// patchSpansLocked publishes the element changes of membership deltas to
// the spans that read a changed group. It runs in apply, under the write
// lock, at revision rev.
func (m *Manager) patchSpansLocked(deltas []membership.Delta, rev int64) {
	changed := make(map[string]*membership.Delta, len(deltas))
	for i := range deltas {
		changed[deltas[i].Group] = &deltas[i]
	}
	scope := m.scopeGroupsLocked()
	var covers []*netipx.IPSet // what changed in Applied To groups
	for g, d := range changed {
		if scope[g] {
			covers = append(covers, changedAddresses(d))
		}
	}
	computed := map[string]realization.Set{} // by set name: shared by the spans that hold it
	patched, retired := 0, 0
	m.spanMu.Lock()
	defer func() {
		m.spanMu.Unlock()
		m.log.Debug("spans after membership changes", "revision", rev, "groups", len(changed), "sets", len(computed), "patched", patched, "retired", retired)
	}()
	for name, e := range m.spans {
		if !readsAny(e.groups, changed) {
			continue
		}
		if a := m.agents[name]; m.recomputeSpans || a != nil && a.Role == realization.RoleVM && coverageMoved(m.vmAddrs[name], covers) {
			m.retired[name] = e
			delete(m.spans, name)
			retired++
			continue
		}
		var sets []realization.Set
		for _, st := range e.span.Sets {
			if !namesAny(st.Names, changed) {
				continue
			}
			n, ok := computed[st.Name]
			if !ok {
				n = realization.SetFor(st.Names, m.idx)
				computed[st.Name] = n
			}
			sets = append(sets, n)
		}
		next, d := e.span.WithSets(sets, rev)
		if d == nil {
			continue
		}
		m.metrics.spanPatched()
		patched++
		m.spans[name] = &spanEntry{span: next, groups: e.groups, earlier: history(e)}
	}
}

func readsAny(groups map[string]bool, changed map[string]*membership.Delta) bool {
	if len(changed) < len(groups) {
		for g := range changed {
			if groups[g] {
				return true
			}
		}
		return false
	}
	for g := range groups {
		if changed[g] != nil {
			return true
		}
	}
	return false
}

func namesAny(names []string, changed map[string]*membership.Delta) bool {
	for _, n := range names {
		if changed[n] != nil {
			return true
		}
	}
	return false
}

// changedAddresses is every address a delta adds or removes.
func changedAddresses(d *membership.Delta) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, r := range d.AddedAddresses {
		b.AddRange(r)
	}
	for _, r := range d.RemovedAddresses {
		b.AddRange(r)
	}
	s, _ := b.IPSet()
	return s
}

// coverageMoved reports whether one of a VM's addresses joined or left
// an Applied To group: then which rules apply to the VM may change.
func coverageMoved(addrs []netip.Addr, covers []*netipx.IPSet) bool {
	for _, set := range covers {
		for _, a := range addrs {
			if set.Contains(a) {
				return true
			}
		}
	}
	return false
}

// Span returns an agent's current span.
func (m *Manager) Span(name string) (*realization.Span, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.agents[name]
	if !ok {
		return nil, &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)}
	}
	return m.spanLocked(a), nil
}

// WaitSpan waits until an agent's span differs from the one whose digest
// it has, then returns it, with the delta from what it has when that is
// one of the spans this one follows from by element changes. It returns
// nothing when ctx ends first.
func (m *Manager) WaitSpan(ctx context.Context, name, have string) (*realization.Span, *realization.Delta, error) {
	for {
		m.mu.RLock()
		ch := m.spanChanged
		a, ok := m.agents[name]
		var e *spanEntry
		var s realization.Span
		if ok {
			e = m.spanEntryLocked(a)
			s = *e.span
			s.Revision = m.rev
		}
		m.mu.RUnlock()
		if !ok {
			return nil, nil, &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)}
		}
		if s.Digest != have {
			for i := len(e.earlier) - 1; i >= 0; i-- {
				if e.earlier[i].Digest == have {
					if d, ok := realization.DiffElements(e.earlier[i], &s); ok {
						return &s, d, nil
					}
				}
			}
			return &s, nil, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil, nil
		}
	}
}
