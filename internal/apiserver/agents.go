package apiserver

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/wire"
)

// SpanResponse is what an agent receives: its span, or only the delta
// from the span it has.
type SpanResponse struct {
	Span  *realization.Span  `json:"span,omitempty"`
	Delta *realization.Delta `json:"delta,omitempty"`
}

// maxSpanWait bounds a span long poll.
const maxSpanWait = 5 * time.Minute

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) {
	as := s.m.Agents()
	pg, next, err := page(r, as)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, listResult{Results: nonNil(pg), ResultCount: len(as), Cursor: next, SortBy: "name", SortAscending: true})
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request) {
	a, ok := s.m.AgentStatus(r.PathValue("agent"))
	if !ok {
		writeError(w, notFound("agent "+r.PathValue("agent")+" is not registered"))
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) deregisterAgent(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	name := r.PathValue("agent")
	if err := s.m.DeregisterAgent(ctx, name); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent": name, "deregistered": true})
}

// updateAgent changes what the manager decides about an agent: the tags,
// OS name and computer name that select its VM into groups, and the
// addresses it may claim.
func (s *Server) updateAgent(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var q manager.AgentUpdate
	if err := strictJSON(body, &q); err != nil {
		writeError(w, badRequest("the agent update cannot be decoded: "+err.Error(), nil))
		return
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	a, err := s.m.UpdateAgent(ctx, r.PathValue("agent"), q)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var rep wire.AgentReport
	if err := strictJSON(body, &rep); err != nil {
		writeError(w, badRequest("the report cannot be decoded: "+err.Error(), nil))
		return
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	if err := s.m.RecordAgentReport(ctx, r.PathValue("agent"), rep); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revision": s.m.Revision()})
}

// span answers GET .../agents/NAME/span?digest=D&wait=SECONDS: the span
// (or the delta from D) as soon as it differs from D, or 304 Not Modified
// when the wait ends first. Without wait it answers at once.
func (s *Server) span(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("agent")
	q := r.URL.Query()
	wait := time.Duration(0)
	if v := q.Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, badRequest("wait: a number of seconds, got "+strconv.Quote(v), nil))
			return
		}
		wait = min(time.Duration(n)*time.Second, maxSpanWait)
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + time.Minute))
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	have := q.Get("digest")
	if wait == 0 {
		have = "" // answer now, whatever the agent has
	}
	sp, d, err := s.m.WaitSpan(ctx, name, have)
	if err != nil {
		writeError(w, err)
		return
	}
	if sp == nil {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if d != nil {
		writeJSON(w, http.StatusOK, SpanResponse{Delta: d})
		return
	}
	writeJSON(w, http.StatusOK, SpanResponse{Span: sp})
}

// AgentRegistration asks for a new agent.
type AgentRegistration struct {
	manager.AgentSpec
	// Server is the manager URL the agent will use (default: the URL this
	// request came to).
	Server string `json:"server,omitempty"`
}

func (s *Server) registerAgent(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var q AgentRegistration
	if err := strictJSON(body, &q); err != nil {
		writeError(w, badRequest("the registration cannot be decoded: "+err.Error(), nil))
		return
	}
	s.answerIdentity(w, r, q.Server, func(ctx context.Context, b *wire.Bundle) (string, any, error) {
		a, creds, err := s.m.RegisterAgent(ctx, q.AgentSpec)
		b.Agent, b.Role, b.Cert, b.Key = a.Name, a.Role, creds.Cert, creds.Key
		return "agent", a, err
	})
}

// rotateAgent issues the agent a new identity and answers with its new
// bundle, the only time its key is seen; the old certificate is refused.
func (s *Server) rotateAgent(w http.ResponseWriter, r *http.Request) {
	server, err := optionalServer(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.answerIdentity(w, r, server, func(ctx context.Context, b *wire.Bundle) (string, any, error) {
		a, creds, err := s.m.RotateAgent(ctx, r.PathValue("agent"))
		b.Agent, b.Role, b.Cert, b.Key = a.Name, a.Role, creds.Cert, creds.Key
		return "agent", a, err
	})
}

// RuleStatistics is one rule's counters, summed over enforcement points.
// Rules see the first packet of each connection (established traffic is
// passed before them), so packet_count counts connections the rule
// decided, as hit_count does.
type RuleStatistics struct {
	Rule           string `json:"rule"`
	InternalRuleID string `json:"internal_rule_id"`
	PacketCount    uint64 `json:"packet_count"`
	ByteCount      uint64 `json:"byte_count"`
	HitCount       uint64 `json:"hit_count"`
}

// statistics serves GET .../security-policies/ID/statistics (and
// gateway-policies) in NSX's list-of-lists shape.
func (s *Server) statistics(w http.ResponseWriter, r *http.Request, kind model.Kind) {
	policyPath := model.Ref{Project: space(r), Domain: r.PathValue("domain"), Kind: kind, ID: r.PathValue("id")}.Path()
	var rules []string
	found := false
	s.m.Read(func(v manager.View) {
		if _, ok := v.Config().Object(policyPath); ok {
			found = true
			for _, rl := range v.Config().PolicyRules(policyPath) {
				rules = append(rules, rl.Path)
			}
		}
	})
	if !found {
		writeError(w, notFound(policyPath+" does not exist"))
		return
	}
	counts := s.m.RuleStatistics(policyPath)
	out := make([]RuleStatistics, 0, len(rules))
	for _, p := range rules {
		c := counts[p]
		out = append(out, RuleStatistics{Rule: p, InternalRuleID: p[strings.LastIndexByte(p, '/')+1:], PacketCount: c.Packets, ByteCount: c.Bytes, HitCount: c.Packets})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	writeJSON(w, http.StatusOK, map[string]any{
		"results":      []any{map[string]any{"statistics": map[string]any{"results": out, "result_count": len(out)}}},
		"result_count": 1,
	})
}
