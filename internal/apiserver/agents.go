package apiserver

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/realization"
)

// RoleAgent is the role of an enforcement agent, authenticated by its
// client certificate: it may only fetch its own span and report on it.
const RoleAgent = "agent"

// agentMayCall is what an agent's identity may do.
func agentMayCall(p manager.Principal, r *http.Request) bool {
	name := strings.TrimPrefix(p.Name, "agent:")
	rest, ok := strings.CutPrefix(r.URL.Path, "/policy/api/v1/kordon/agents/"+name+"/")
	if !ok {
		return false
	}
	switch rest {
	case "span":
		return r.Method == http.MethodGet
	case "report":
		return r.Method == http.MethodPost
	}
	return false
}

// SpanResponse is what an agent receives: its span, or only the delta
// from the span it has.
type SpanResponse struct {
	Span  *realization.Span  `json:"span,omitempty"`
	Delta *realization.Delta `json:"delta,omitempty"`
}

// maxSpanWait bounds a span long poll.
const maxSpanWait = 5 * time.Minute

// agents routes /kordon/agents and below.
func (s *Server) agents(w http.ResponseWriter, r *http.Request, rest string) {
	rest = strings.Trim(rest, "/")
	if rest == "" {
		switch r.Method {
		case http.MethodGet:
			as := s.m.Agents()
			writeJSON(w, http.StatusOK, listResult{Results: as, ResultCount: len(as), SortBy: "name", SortAscending: true})
		case http.MethodPost:
			s.registerAgent(w, r)
		default:
			writeError(w, apiError(http.StatusMethodNotAllowed, codeMethod, "GET or POST", nil))
		}
		return
	}
	name, sub, _ := strings.Cut(rest, "/")
	switch {
	case sub == "" && r.Method == http.MethodGet:
		for _, a := range s.m.Agents() {
			if a.Name == name {
				writeJSON(w, http.StatusOK, a)
				return
			}
		}
		writeError(w, notFound("agent "+name+" is not registered"))
	case sub == "" && r.Method == http.MethodDelete:
		ctx, cancel := s.writeCtx(r)
		defer cancel()
		if err := s.m.DeregisterAgent(ctx, name); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"agent": name, "deregistered": true})
	case sub == "bundle" && r.Method == http.MethodGet:
		creds, err := s.m.AgentCredentials(r.Context(), name)
		if err != nil {
			writeError(w, err)
			return
		}
		b := s.newBundle(r, "", r.URL.Query().Get("server"), creds)
		b.Agent = name
		writeJSON(w, http.StatusOK, b)
	case sub == "span" && r.Method == http.MethodGet:
		s.span(w, r, name)
	case sub == "report" && r.Method == http.MethodPost:
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		var rep manager.AgentReport
		if err := strictJSON(body, &rep); err != nil {
			writeError(w, badRequest("the report cannot be decoded: "+err.Error(), nil))
			return
		}
		ctx, cancel := s.writeCtx(r)
		defer cancel()
		if err := s.m.RecordAgentReport(ctx, name, rep); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"revision": s.m.Revision()})
	default:
		writeError(w, notFound("no agent API "+r.Method+" "+r.URL.Path))
	}
}

// span answers GET .../agents/NAME/span?digest=D&wait=SECONDS: the span
// (or the delta from D) as soon as it differs from D, or 304 Not Modified
// when the wait ends first. Without wait it answers at once.
func (s *Server) span(w http.ResponseWriter, r *http.Request, name string) {
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

func (s *Server) registerAgent(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var q struct {
		Name    string `json:"name"`
		Role    string `json:"role"`
		Gateway string `json:"gateway"`
		Server  string `json:"server"`
	}
	if err := strictJSON(body, &q); err != nil {
		writeError(w, badRequest("the registration cannot be decoded: "+err.Error(), nil))
		return
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	a, creds, err := s.m.RegisterAgent(ctx, q.Name, q.Role, q.Gateway)
	if err != nil {
		writeError(w, err)
		return
	}
	b := s.newBundle(r, "", q.Server, creds)
	b.Agent = a.Name
	writeJSON(w, http.StatusOK, map[string]any{"agent": a, "bundle": b})
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
func (s *Server) statistics(w http.ResponseWriter, r *http.Request, policyPath string) {
	if r.Method != http.MethodGet {
		writeError(w, apiError(http.StatusMethodNotAllowed, codeMethod, "GET", nil))
		return
	}
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
