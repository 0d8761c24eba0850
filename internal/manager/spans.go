package manager

import (
	"context"
	"fmt"

	"github.com/kordon-dev/kordon/internal/realization"
)

// spanEntry is an agent's span and the groups it was computed from.
type spanEntry struct {
	span   *realization.Span
	groups map[string]bool
}

// spanLocked returns an agent's span for the current state, at the
// current revision. Spans are computed incrementally: one is kept until
// the configuration changes, the agent's record changes, or the
// membership of a group it reads changes (a group its rules name, or,
// on a VM, any group an Applied To names, which decides the rules that
// apply there). A membership change therefore recomputes only the spans
// of the agents that use the group.
func (m *Manager) spanLocked(a *Agent) *realization.Span {
	m.spanMu.Lock()
	e := m.spans[a.Name]
	m.spanMu.Unlock()
	if e == nil {
		e = m.computeSpanLocked(a)
		m.spanMu.Lock()
		m.spans[a.Name] = e
		m.spanMu.Unlock()
	}
	s := *e.span
	s.Revision = m.rev
	return &s
}

func (m *Manager) computeSpanLocked(a *Agent) *spanEntry {
	m.metrics.spanComputed()
	var s *realization.Span
	groups := map[string]bool{}
	if a.Role == realization.RoleGateway {
		s = realization.ForGateway(m.cfg, m.idx, m.rev, a.Gateway)
	} else {
		s = realization.ForVM(m.cfg, m.idx, m.rev, a.Name, a.Project, m.vmAddrs[a.Name])
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
	}
	for _, st := range s.Sets {
		for _, n := range st.Names {
			groups[n] = true
		}
	}
	return &spanEntry{span: s, groups: groups}
}

// forgetSpansLocked drops the cached spans that read one of the changed
// groups, or every span when changed is nil. It runs under the write
// lock, in one pass over the agents.
func (m *Manager) forgetSpansLocked(changed map[string]bool) {
	m.spanMu.Lock()
	defer m.spanMu.Unlock()
	if changed == nil {
		clear(m.spans)
		return
	}
	for name, e := range m.spans {
		small, large := changed, e.groups
		if len(small) > len(large) {
			small, large = large, small
		}
		for g := range small {
			if large[g] {
				delete(m.spans, name)
				break
			}
		}
	}
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
// it has, then returns it, with the delta from what it has when the last
// span sent to it was that one and only set elements changed. It returns
// nothing when ctx ends first.
func (m *Manager) WaitSpan(ctx context.Context, name, have string) (*realization.Span, *realization.Delta, error) {
	for {
		m.mu.RLock()
		ch := m.spanChanged
		a, ok := m.agents[name]
		var s *realization.Span
		if ok {
			s = m.spanLocked(a)
		}
		m.mu.RUnlock()
		if !ok {
			return nil, nil, &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)}
		}
		if s.Digest != have {
			m.sentMu.Lock()
			prev := m.sent[name]
			m.sent[name] = s
			m.sentMu.Unlock()
			if prev != nil && prev.Digest == have {
				if d, ok := realization.Diff(prev, s); ok {
					return s, d, nil
				}
			}
			return s, nil, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil, nil
		}
	}
}
