package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/store"
	"github.com/kordon-dev/kordon/internal/wire"
)

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
	SpanRevision int64             `json:"span_revision"`
	SpanDigest   string            `json:"span_digest"`
	Report       *wire.AgentReport `json:"last_report,omitempty"`
	// Addresses are the VM's addresses that count: members of its groups,
	// deciding its Applied To. Refused are the ones that do not, and why.
	Addresses []string         `json:"effective_addresses,omitempty"`
	Refused   []RefusedAddress `json:"refused_addresses,omitempty"`
}

// Limits on what an agent reports.
const (
	// maxCounter caps each counter an agent reports (2^60 bytes is nearly
	// three years of 100 Gb/s through one rule): totals sum agents' counts
	// saturating, and the cap keeps one agent's claim from freezing a
	// total (it would take sixteen at the cap).
	maxCounter     = 1 << 60
	maxReportError = 4096
	maxDigest      = 64
	// defaultReportGap is how often a heartbeat or report may be stored:
	// more often is refused (429), so no identity can fill the store.
	defaultReportGap = 500 * time.Millisecond
)

// ErrTooFrequent: a cluster or agent reports more often than it may.
var ErrTooFrequent = errors.New("too frequent")

func checkTextField(field, s string) error {
	if err := model.CheckText(s, model.MaxTextField, false); err != nil {
		return invalidf("%s: %v", field, err)
	}
	return nil
}

// checkReport validates a report before anything of it is kept.
func checkReport(rep *wire.AgentReport) error {
	if rep.State != "success" && rep.State != "error" {
		return invalidf(`state must be "success" or "error"`)
	}
	if rep.Interval < time.Second || rep.Interval > time.Hour {
		return invalidf("interval must be between 1s and 1h")
	}
	if err := model.CheckText(rep.Error, maxReportError, true); err != nil {
		return invalidf("error: %v", err)
	}
	if len(rep.Digest) > maxDigest || strings.Trim(rep.Digest, "0123456789abcdef") != "" {
		return invalidf("digest: a span digest is at most %d hexadecimal digits", maxDigest)
	}
	switch rep.Mode {
	case "", "enforcing", "kept", "fail-closed", "fail-open":
	default:
		return invalidf("mode %q: enforcing, kept, fail-closed or fail-open", rep.Mode)
	}
	if rep.Revision < 0 || rep.Rules < 0 || rep.Elements < 0 {
		return invalidf("revision, rules and elements cannot be negative")
	}
	if rep.VM != nil {
		return checkFacts(rep.VM)
	}
	return nil
}

// RecordAgentReport stores an agent's realization report; a VM's
// reported facts, when they changed, update its record (and so its
// addresses) in the same write. Counters of rules that are not in the
// agent's span are dropped: an agent reports on its own rules only.
func (m *Manager) RecordAgentReport(ctx context.Context, name string, rep wire.AgentReport) error {
	if err := checkReport(&rep); err != nil {
		return err
	}
	now := m.now()
	rep.Time = now.UTC()
	facts := rep.VM
	m.mu.RLock()
	a, ok := m.agents[name]
	var cur Agent
	var rules map[string]bool
	if ok {
		cur = *a
		rules = spanRules(m.spanLocked(a))
	}
	m.mu.RUnlock()
	if !ok {
		return &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)}
	}
	if !m.allowReport("agent:"+name, now) {
		return &WriteError{Kind: ErrTooFrequent, Message: fmt.Sprintf("agent %q reports more often than every %s", name, m.reportGap)}
	}
	kept := make(map[string]wire.RuleCounters, min(len(rep.Counters), len(rules)))
	for r, c := range rep.Counters {
		if rules[r] {
			kept[r] = wire.RuleCounters{Packets: min(c.Packets, maxCounter), Bytes: min(c.Bytes, maxCounter)}
		} else {
			rep.Dropped++
		}
	}
	rep.Counters = kept
	if rep.Dropped > 0 {
		m.log.Debug("agent report named rules outside its span", "agent", name, "dropped", rep.Dropped)
	}
	rep.VM = nil
	b, _ := json.Marshal(rep)
	if !factsChanged(cur, facts) && m.sameReport(name, rep, now) {
		// Only counters and times moved: this manager shows them at once,
		// the store (and so every other manager) with the next report
		// that says something new or comes unchangedReportGap later.
		m.mu.Lock()
		if _, ok := m.agents[name]; ok {
			m.reports[name] = rep
		}
		m.mu.Unlock()
		return nil
	}
	// A report that changes the VM's facts also rewrites its record
	// (about the size of the facts); both are charged.
	charge := len(b) + len(store.AgentReportPrefix+name) + revisionCost
	if factsChanged(cur, facts) {
		fb, _ := json.Marshal(facts)
		charge += len(fb) + len(store.AgentsPrefix+name) + 1024
	}
	if err := m.overBudget("agent "+name, charge); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		ops, conds, err := m.reportOps(ctx, name, facts, b)
		if err != nil {
			return err
		}
		rev, err := m.st.Commit(ctx, conds, ops)
		if errors.Is(err, store.ErrConflict) && attempt < maxRetries {
			continue // the record changed (a rotation, an admin's update): read it again
		}
		if errors.Is(err, store.ErrConflict) {
			return &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("agent %q changed while its report was stored; report again", name)}
		}
		if err != nil {
			return err
		}
		m.reportStored(name, rep, now)
		return m.WaitApplied(ctx, rev)
	}
}

// reportOps writes a report and, when the VM's facts changed, the agent's
// record with them, conditioned on the record being the one read: a report
// never writes back a record a rotation or an admin's update replaced.
func (m *Manager) reportOps(ctx context.Context, name string, facts *wire.VMFacts, report []byte) ([]store.Op, []store.Cond, error) {
	kv, ok, err := m.st.Get(ctx, store.AgentsPrefix+name)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)}
	}
	mod := kv.ModRevision
	conds := []store.Cond{{Key: store.AgentsPrefix + name, ModRevision: &mod}}
	ops := []store.Op{{Key: store.AgentReportPrefix + name, Value: report}}
	var a Agent
	if err := json.Unmarshal(kv.Value, &a); err != nil {
		return nil, nil, fmt.Errorf("agent %q: its stored record cannot be read: %w", name, err)
	}
	if facts != nil && a.Role == realization.RoleVM && !sameFacts(facts, a.VM) {
		a.VM = facts
		rec, _ := json.Marshal(a)
		ops = append(ops, store.Op{Key: store.AgentsPrefix + name, Value: rec})
	}
	return ops, conds, nil
}

func factsChanged(a Agent, facts *wire.VMFacts) bool {
	return facts != nil && a.Role == realization.RoleVM && !sameFacts(facts, a.VM)
}

// unchangedReportGap is how often a report that changes nothing but its
// counters is stored.
const unchangedReportGap = 30 * time.Second

// sameReport reports whether rep says what the report last stored for the
// agent said (its state, error, span and mode), and was stored less than
// unchangedReportGap ago.
func (m *Manager) sameReport(name string, rep wire.AgentReport, now time.Time) bool {
	m.reportMu.Lock()
	defer m.reportMu.Unlock()
	last, ok := m.lastStored[name]
	return ok && now.Sub(last.at) < unchangedReportGap && last.key == reportKey(rep)
}

func (m *Manager) reportStored(name string, rep wire.AgentReport, now time.Time) {
	m.reportMu.Lock()
	defer m.reportMu.Unlock()
	m.lastStored[name] = storedReport{key: reportKey(rep), at: now}
}

type storedReport struct {
	key string
	at  time.Time
}

func reportKey(r wire.AgentReport) string {
	return fmt.Sprintf("%s\x00%s\x00%d\x00%s\x00%d\x00%d\x00%s", r.State, r.Error, r.Revision, r.Digest, r.Rules, r.Elements, r.Mode)
}

// allowReport admits one stored report or heartbeat per identity per
// report gap.
func (m *Manager) allowReport(who string, now time.Time) bool {
	m.reportMu.Lock()
	defer m.reportMu.Unlock()
	if last, ok := m.lastReport[who]; ok && now.Sub(last) < m.reportGap {
		return false
	}
	m.lastReport[who] = now
	if len(m.lastReport) > 100000 {
		for k, t := range m.lastReport {
			if now.Sub(t) > time.Minute {
				delete(m.lastReport, k)
			}
		}
	}
	return true
}

func spanRules(s *realization.Span) map[string]bool {
	out := map[string]bool{}
	for _, h := range s.Hooks {
		for _, r := range h.Rules {
			out[r.Path] = true
		}
	}
	return out
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

// AgentStatus returns one agent with its realization state.
func (m *Manager) AgentStatus(name string) (AgentStatus, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.agents[name]
	if !ok {
		return AgentStatus{}, false
	}
	return m.agentStatusLocked(a, m.now()), true
}

func (m *Manager) agentStatusLocked(a *Agent, now time.Time) AgentStatus {
	s := m.spanLocked(a)
	st := AgentStatus{Agent: *a, SpanRevision: s.Revision, SpanDigest: s.Digest, Refused: m.vmRefused[a.Name]}
	for _, ad := range m.vmAddrs[a.Name] {
		st.Addresses = append(st.Addresses, ad.String())
	}
	rep, ok := m.reports[a.Name]
	switch {
	case !ok:
		st.State, st.Reason = RealizedUnknown, "the agent has not reported yet"
	case now.Sub(rep.Time) > time.Duration(missedBeats)*max(rep.Interval, unchangedReportGap):
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
func (m *Manager) RuleStatistics(policyPath string) map[string]wire.RuleCounters {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[string]wire.RuleCounters{}
	prefix := policyPath + "/"
	for _, rep := range m.reports {
		for rule, c := range rep.Counters {
			if strings.HasPrefix(rule, prefix) {
				// Saturating: one agent's counts can make a total large,
				// never wrap it around to hide the others'.
				t := out[rule]
				t.Packets = addSat(t.Packets, c.Packets)
				t.Bytes = addSat(t.Bytes, c.Bytes)
				out[rule] = t
			}
		}
	}
	return out
}

func addSat(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}
