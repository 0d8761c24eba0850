package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/store"
)

// Agent is an enforcement point: a VM the distributed firewall protects,
// or a host routing for a tier-0 or tier-1 gateway.
type Agent struct {
	Name       string    `json:"name"`
	ID         string    `json:"id"`
	Role       string    `json:"role"`
	Gateway    string    `json:"gateway,omitempty"`
	Registered time.Time `json:"registered"`
	CertSerial string    `json:"cert_serial,omitempty"`
	// VM is what a VM's agent reports about it; its addresses decide
	// which rules' Applied To cover it.
	VM *VMFacts `json:"vm,omitempty"`
}

// VMFacts describe a VM as its agent sees it.
type VMFacts struct {
	Addresses    []netip.Addr `json:"ip_addresses"`
	OSName       string       `json:"os_name,omitempty"`
	ComputerName string       `json:"computer_name,omitempty"`
	Tags         []model.Tag  `json:"tags,omitempty"`
}

// vmObject is the inventory object of a VM's agent: what groups with the
// VirtualMachine member type select.
func vmObject(a *Agent) *inventory.VirtualMachine {
	vm := &inventory.VirtualMachine{Meta: inventory.Meta{Cluster: inventory.VMCluster, Name: a.Name}}
	if a.VM != nil {
		vm.Addresses, vm.OSName, vm.ComputerName = a.VM.Addresses, a.VM.OSName, a.VM.ComputerName
		for _, t := range a.VM.Tags {
			vm.Tags = append(vm.Tags, inventory.Tag{Scope: t.Scope, Value: t.Tag})
		}
	}
	return vm
}

func (f *VMFacts) equal(o *VMFacts) bool {
	a, _ := json.Marshal(f)
	b, _ := json.Marshal(o)
	return string(a) == string(b)
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
	// the agent started.
	Counters map[string]RuleCounters `json:"rule_statistics,omitempty"`
	VM       *VMFacts                `json:"vm,omitempty"`
	Interval time.Duration           `json:"interval"`
	Time     time.Time               `json:"time"`
}

// RuleCounters count what a rule decided.
type RuleCounters struct {
	Packets uint64 `json:"packet_count"`
	Bytes   uint64 `json:"byte_count"`
}

// Realization states, as NSX names them.
const (
	RealizedSuccess    = "SUCCESS"
	RealizedInProgress = "IN_PROGRESS"
	RealizedError      = "ERROR"
	RealizedUnknown    = "UNKNOWN"
)

// AgentStatus is an agent with the state of its realization.
type AgentStatus struct {
	Agent
	State  string `json:"realization_state"`
	Reason string `json:"reason,omitempty"`
	// SpanRevision and SpanDigest are what the agent should enforce now.
	SpanRevision int64        `json:"span_revision"`
	SpanDigest   string       `json:"span_digest"`
	Report       *AgentReport `json:"last_report,omitempty"`
}

// RegisterAgent creates an enforcement agent and its identity.
func (m *Manager) RegisterAgent(ctx context.Context, name, role, gateway string) (Agent, Credentials, error) {
	invalid := func(f string, a ...any) (Agent, Credentials, error) {
		return Agent{}, Credentials{}, &WriteError{Kind: ErrInvalid, Message: fmt.Sprintf(f, a...)}
	}
	if !clusterName.MatchString(name) {
		return invalid("agent name %q: use lower-case letters, digits, '-' and '.' (at most 63, starting and ending with a letter or digit)", name)
	}
	switch role {
	case realization.RoleVM:
		if gateway != "" {
			return invalid("role vm: --gateway is for gateway agents")
		}
	case realization.RoleGateway:
		m.mu.RLock()
		_, t0 := m.cfg.Tier0s[gateway]
		_, t1 := m.cfg.Tier1s[gateway]
		m.mu.RUnlock()
		if !t0 && !t1 {
			return invalid("gateway %q: no such tier-0 or tier-1 (give its path, as /infra/tier-1s/ID)", gateway)
		}
	default:
		return invalid("role %q: use vm or gateway", role)
	}
	a := Agent{Name: name, ID: newUUID(), Role: role, Gateway: gateway, Registered: m.now().UTC()}
	ca, err := m.ca(ctx)
	if err != nil {
		return Agent{}, Credentials{}, err
	}
	issued, err := ca.IssueClient(name, "agent", 5)
	if err != nil {
		return Agent{}, Credentials{}, err
	}
	a.CertSerial, _ = pki.SerialOf(issued.CertPEM)
	creds := Credentials{Cert: string(issued.CertPEM), Key: string(issued.KeyPEM)}
	cb, _ := json.Marshal(creds)
	rec, _ := json.Marshal(a)
	none := int64(0)
	rev, err := m.st.Commit(ctx, []store.Cond{{Key: store.AgentsPrefix + name, ModRevision: &none}},
		[]store.Op{{Key: store.AgentsPrefix + name, Value: rec}, {Key: store.AgentCredentialsPrefix + name, Value: cb}})
	if errors.Is(err, store.ErrConflict) {
		return Agent{}, Credentials{}, &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("an agent named %q is already registered (agent names are unique)", name)}
	}
	if err != nil {
		return Agent{}, Credentials{}, err
	}
	return a, creds, m.WaitApplied(ctx, rev)
}

func (m *Manager) ca(ctx context.Context) (pki.CA, error) {
	kv, ok, err := m.st.Get(ctx, store.CAKey)
	if err != nil || !ok {
		return pki.CA{}, fmt.Errorf("reading the CA: %v", err)
	}
	var ca pki.CA
	return ca, json.Unmarshal(kv.Value, &ca)
}

// AgentCredentials returns an agent's identity.
func (m *Manager) AgentCredentials(ctx context.Context, name string) (Credentials, error) {
	kv, ok, err := m.st.Get(ctx, store.AgentCredentialsPrefix+name)
	if err != nil {
		return Credentials{}, err
	}
	if !ok {
		return Credentials{}, &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)}
	}
	var c Credentials
	return c, json.Unmarshal(kv.Value, &c)
}

// AgentIdentity checks a client certificate presented for an agent.
func (m *Manager) AgentIdentity(name, serial string) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.agents[name]
	switch {
	case !ok:
		return fmt.Errorf("%w: agent %q is not registered (it was deregistered, or never existed); register it again", ErrRevoked, name)
	case a.CertSerial != serial:
		return fmt.Errorf("%w: this certificate of agent %q was replaced", ErrRevoked, name)
	}
	return nil
}

// DeregisterAgent removes an agent and revokes its identity. The agent
// keeps enforcing what it has until it is uninstalled.
func (m *Manager) DeregisterAgent(ctx context.Context, name string) error {
	rev, err := m.st.Commit(ctx, []store.Cond{{Key: store.AgentsPrefix + name, Exists: true}}, []store.Op{
		{Key: store.AgentsPrefix + name, Delete: true},
		{Key: store.AgentCredentialsPrefix + name, Delete: true},
		{Key: store.AgentReportPrefix + name, Delete: true},
	})
	if errors.Is(err, store.ErrConflict) {
		return &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)}
	}
	if err != nil {
		return err
	}
	return m.WaitApplied(ctx, rev)
}

// RecordAgentReport stores an agent's realization report; a VM's facts,
// when they changed, update its record (and so its span) in the same
// write.
func (m *Manager) RecordAgentReport(ctx context.Context, name string, rep AgentReport) error {
	if rep.State != "success" && rep.State != "error" {
		return &WriteError{Kind: ErrInvalid, Message: `state must be "success" or "error"`}
	}
	if rep.Interval < time.Second || rep.Interval > time.Hour {
		return &WriteError{Kind: ErrInvalid, Message: "interval must be between 1s and 1h"}
	}
	rep.Time = m.now().UTC()
	m.mu.RLock()
	a, ok := m.agents[name]
	var cur Agent
	if ok {
		cur = *a
	}
	m.mu.RUnlock()
	if !ok {
		return &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)}
	}
	ops := []store.Op{}
	conds := []store.Cond{{Key: store.AgentsPrefix + name, Exists: true}}
	if rep.VM != nil && cur.Role == realization.RoleVM && !rep.VM.equal(cur.VM) {
		cur.VM = rep.VM
		rec, _ := json.Marshal(cur)
		ops = append(ops, store.Op{Key: store.AgentsPrefix + name, Value: rec})
	}
	rep.VM = nil
	b, _ := json.Marshal(rep)
	ops = append(ops, store.Op{Key: store.AgentReportPrefix + name, Value: b})
	rev, err := m.st.Commit(ctx, conds, ops)
	if errors.Is(err, store.ErrConflict) {
		return &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)}
	}
	if err != nil {
		return err
	}
	return m.WaitApplied(ctx, rev)
}

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
		var addrs []netip.Addr
		if a.VM != nil {
			addrs = a.VM.Addresses
		}
		s = realization.ForVM(m.cfg, m.idx, m.rev, a.Name, addrs)
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

// Agents returns every agent with its realization state.
func (m *Manager) Agents() []AgentStatus {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := m.now()
	out := make([]AgentStatus, 0, len(m.agents))
	for _, a := range m.agents {
		out = append(out, m.agentStatusLocked(a, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (m *Manager) agentStatusLocked(a *Agent, now time.Time) AgentStatus {
	s := m.spanLocked(a)
	st := AgentStatus{Agent: *a, SpanRevision: s.Revision, SpanDigest: s.Digest}
	rep, ok := m.reports[a.Name]
	switch {
	case !ok:
		st.State, st.Reason = RealizedUnknown, "the agent has not reported yet"
	case now.Sub(rep.Time) > time.Duration(missedBeats)*rep.Interval:
		st.State, st.Reason = RealizedUnknown, fmt.Sprintf("no report since %s", rep.Time.Format(time.RFC3339))
	case rep.State == "error":
		st.State, st.Reason = RealizedError, rep.Error
	case rep.Digest != s.Digest:
		st.State, st.Reason = RealizedInProgress, fmt.Sprintf("the agent enforces revision %d; revision %d changed its rules or members", rep.Revision, s.Revision)
	default:
		st.State = RealizedSuccess
	}
	if ok {
		r := rep
		st.Report = &r
	}
	return st
}

// PointStatus is the realization of one policy at one enforcement point.
type PointStatus struct {
	Agent    string `json:"enforcement_point"`
	Role     string `json:"role"`
	State    string `json:"state"`
	Reason   string `json:"reason,omitempty"`
	Revision int64  `json:"revision_realized"`
}

// PolicyRealization returns, for each agent whose span holds rules of
// the policy, whether it enforces the current revision.
func (m *Manager) PolicyRealization(policyPath string) []PointStatus {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := m.now()
	var out []PointStatus
	for _, a := range m.agents {
		st := m.agentStatusLocked(a, now)
		s := m.spanLocked(a)
		if !spanHolds(s, policyPath) {
			continue
		}
		ps := PointStatus{Agent: a.Name, Role: a.Role, State: st.State, Reason: st.Reason}
		if st.Report != nil {
			ps.Revision = st.Report.Revision
		}
		out = append(out, ps)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Agent < out[j].Agent })
	return out
}

func spanHolds(s *realization.Span, policyPath string) bool {
	for _, h := range s.Hooks {
		for _, r := range h.Rules {
			if r.Policy == policyPath {
				return true
			}
		}
	}
	return false
}

// RuleStatistics sums the counters every agent reports for the rules of
// a policy, by rule path.
func (m *Manager) RuleStatistics(policyPath string) map[string]RuleCounters {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[string]RuleCounters{}
	prefix := policyPath + "/"
	for _, rep := range m.reports {
		for rule, c := range rep.Counters {
			if strings.HasPrefix(rule, prefix) {
				t := out[rule]
				t.Packets += c.Packets
				t.Bytes += c.Bytes
				out[rule] = t
			}
		}
	}
	return out
}

// applyAgentLocked folds an agent record or report change into the
// state; it reports whether spans may have changed.
func (m *Manager) applyAgentLocked(ev store.Event) bool {
	switch {
	case strings.HasPrefix(ev.Key, store.AgentsPrefix):
		name := strings.TrimPrefix(ev.Key, store.AgentsPrefix)
		vmKey := inventory.Key{Cluster: inventory.VMCluster, Kind: inventory.KindVirtualMachine, Name: name}
		m.spanMu.Lock()
		delete(m.spans, name)
		m.spanMu.Unlock()
		if ev.Deleted {
			delete(m.agents, name)
			m.idx.Delete(vmKey)
			return true
		}
		var a Agent
		if err := json.Unmarshal(ev.Value, &a); err != nil {
			m.log.Error("unreadable agent record", "key", ev.Key, "error", err)
			return false
		}
		m.agents[name] = &a
		if a.Role == realization.RoleVM {
			m.idx.Upsert(vmObject(&a))
		} else {
			m.idx.Delete(vmKey)
		}
		return true
	case strings.HasPrefix(ev.Key, store.AgentReportPrefix):
		name := strings.TrimPrefix(ev.Key, store.AgentReportPrefix)
		var rep AgentReport
		if ev.Deleted {
			delete(m.reports, name)
		} else if json.Unmarshal(ev.Value, &rep) == nil {
			m.reports[name] = rep
		}
	}
	return false
}
