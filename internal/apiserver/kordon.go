package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kordon-dev/kordon/internal/advise"
	"github.com/kordon-dev/kordon/internal/explain"
	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/reach"
	"github.com/kordon-dev/kordon/internal/trace"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// explainCache keeps the compiled ruleset of each firewall until the
// state moves on.
type explainCache struct {
	mu  sync.Mutex
	rev int64
	rs  map[string]*policy.Ruleset
}

func newExplainCache() *explainCache { return &explainCache{rs: map[string]*policy.Ruleset{}} }

func (c *explainCache) ruleset(v manager.View, gateway string) *policy.Ruleset {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rev != v.Revision() {
		c.rev, c.rs = v.Revision(), map[string]*policy.Ruleset{}
	}
	rs, ok := c.rs[gateway]
	if !ok {
		rs = policy.Compile(v.Config(), v.Index(), policy.Point{Gateway: gateway})
		c.rs[gateway] = rs
	}
	return rs
}

func (s *Server) explainFlow(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var q explain.Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		writeError(w, badRequest("the flow cannot be decoded: "+err.Error(), nil))
		return
	}
	fl, err := q.Flow()
	if err != nil {
		writeError(w, badRequest(err.Error(), nil))
		return
	}
	var rep explain.Report
	s.m.Read(func(v manager.View) {
		if q.Gateway != "" {
			ref, perr := model.ParsePath(q.Gateway)
			if _, ok := v.Config().Object(q.Gateway); perr != nil || !ok || (ref.Kind != model.KindTier0 && ref.Kind != model.KindTier1) {
				err = badRequest("gateway: "+q.Gateway+" is not an existing tier-0 or tier-1", nil)
				return
			}
		}
		rep = explain.Explain(s.explain.ruleset(v, q.Gateway), v.Index(), fl)
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// trace answers an outbound (from_pod) or inbound (from) trace request.
func (s *Server) trace(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var q struct {
		trace.OutboundRequest
		From      string `json:"from"`
		ToService string `json:"to_service"`
		ToIngress string `json:"to_ingress"`
		ToGateway string `json:"to_gateway"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		writeError(w, badRequest("the trace request cannot be decoded: "+err.Error(), nil))
		return
	}
	if (q.Pod == "") == (q.From == "") {
		writeError(w, badRequest("give either from_pod (outbound) or from (inbound)", nil))
		return
	}
	var rep any
	s.m.Read(func(v manager.View) {
		fw := trace.NewFirewalls(v.Config(), v.Index())
		if q.Pod != "" {
			rep, err = trace.TraceOutbound(v.Index(), fw, q.OutboundRequest)
			return
		}
		rep, err = trace.TraceInbound(v.Index(), fw, trace.InboundRequest{From: q.From, ToService: q.ToService, ToIngress: q.ToIngress, ToGateway: q.ToGateway, Gateway: q.Gateway})
	})
	if err != nil {
		writeError(w, badRequest(err.Error(), nil))
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// advise returns the advisor's findings on the current state. The exact
// rule analysis can take seconds on large rulesets, so it runs on rulesets
// compiled under the read lock but outside it: writers never wait for it.
func (s *Server) advise(w http.ResponseWriter, _ *http.Request) {
	var fs []advise.Finding
	var rulesets []*policy.Ruleset
	s.m.Read(func(v manager.View) {
		fs = advise.Advise(advise.Input{Config: v.Config(), Index: v.Index(), ClusterStatus: v.ClusterState, SkipRules: true})
		rulesets = advise.Rulesets(v.Config(), v.Index())
	})
	fs = append(fs, advise.RuleFindings(rulesets, reach.Options{})...)
	advise.Sort(fs)
	writeJSON(w, http.StatusOK, map[string]any{"results": fs, "result_count": len(fs)})
}

// heartbeat is how often an idle watch stream says it is alive.
const heartbeat = 15 * time.Second

// watch streams events as JSON lines. ?since=R resumes after revision R
// (410 Gone when that is older than what is kept); without since the
// stream starts now. ?types=config,membership and ?path_prefix= filter.
// The first line says the revision the stream starts after.
// watchSinceWait is how long a watch from a revision not applied here
// yet waits for it.
const watchSinceWait = 3 * time.Second

// watchTypes are the event types a watch can be limited to.
var watchTypes = []string{"config", "membership", "project", "cluster", "license"}

func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since := s.m.Revision()
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, badRequest("since must be a store revision", nil))
			return
		}
		// A revision this manager has not reached may be one another
		// manager of the installation already applied: wait a little for
		// it. Beyond that it is a mistake (another installation's number,
		// say), which would otherwise wait in silence.
		if n > since {
			ctx, cancel := context.WithTimeout(r.Context(), watchSinceWait)
			err := s.m.WaitApplied(ctx, n)
			cancel()
			if err != nil {
				writeError(w, badRequest(fmt.Sprintf("since %d is beyond the current revision %d", n, s.m.Revision()), nil))
				return
			}
		}
		since = n
	}
	types := map[string]bool{}
	for _, t := range strings.Split(q.Get("types"), ",") {
		if t == "" {
			continue
		}
		if !slices.Contains(watchTypes, t) {
			writeError(w, badRequest(fmt.Sprintf("types: %q is not an event type (%s)", t, strings.Join(watchTypes, ", ")), nil))
			return
		}
		types[t] = true
	}
	prefix := q.Get("path_prefix")
	replay, sub, err := s.m.Subscribe(since)
	if err != nil {
		writeError(w, err)
		return
	}
	defer sub.Close()
	// A project's principals watch their project's space and nothing
	// else: its objects, its groups' members, and its own record.
	confined := ""
	if p := principal(r); p.Role.IsProjectRole() {
		confined = model.Space(p.Project)
		// A project deleted and created again under its id is another
		// tenant: the replay starts after the last deletion. (The kept
		// events are in order, so an older deletion took the events
		// before it out of the history with it.)
		for i := len(replay) - 1; i >= 0; i-- {
			if e := replay[i]; e.Type == "project" && e.Path == confined && e.Op == string(model.OpDelete) {
				replay = replay[i+1:]
				break
			}
		}
	}
	// A watcher that stops reading must not hold its stream forever: each
	// write has to get through within streamWrite.
	rc := http.NewResponseController(w)
	w = deadlineWriter{w, rc}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	send := func(e manager.Event) error {
		if (len(types) > 0 && !types[e.Type]) || !strings.HasPrefix(e.Path, prefix) {
			return nil
		}
		if confined != "" && (e.Path != confined && !strings.HasPrefix(e.Path, confined+"/") ||
			e.Type != "config" && e.Type != "membership" && e.Type != "project") {
			return nil
		}
		return enc.Encode(e)
	}
	_ = enc.Encode(manager.Event{Type: "start", Revision: since, Time: time.Now()})
	for _, e := range replay {
		if send(e) != nil {
			return
		}
	}
	flush()
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-sub.C:
			if !ok {
				return // too slow, or the state was reloaded: resume with since
			}
			if send(e) != nil {
				return
			}
			for more := true; more; {
				select {
				case e, ok := <-sub.C:
					if !ok {
						flush()
						return
					}
					if send(e) != nil {
						return
					}
				default:
					more = false
				}
			}
			flush()
		case <-t.C:
			if enc.Encode(manager.Event{Type: "heartbeat", Revision: s.m.Revision(), Time: time.Now()}) != nil {
				return
			}
			flush()
		}
	}
}

func (s *Server) installLicense(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	l, err := license.Parse(body)
	if err != nil {
		writeError(w, badRequest(err.Error(), nil))
		return
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	if err := s.m.InstallLicense(ctx, l); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.m.License())
}

func (s *Server) getLicense(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.m.License())
}

// createToken issues a token: {"id", "role", "project", "description",
// "expires"}; the answer holds the token, which is never shown again.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var q manager.TokenRequest
	if err := strictJSON(body, &q); err != nil {
		writeError(w, badRequest("the token request cannot be decoded: "+err.Error(), nil))
		return
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	tok, info, err := s.m.CreateToken(ctx, q)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		manager.TokenInfo
		Token string `json:"token"`
	}{info, tok})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	ts := s.m.Tokens()
	pg, next, err := page(r, ts)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, listResult{Results: nonNil(pg), ResultCount: len(ts), Cursor: next, SortBy: "id", SortAscending: true})
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request) {
	t, ok := s.m.Token(r.PathValue("token"))
	if !ok {
		writeError(w, notFound("no token "+strconv.Quote(r.PathValue("token"))))
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	id := r.PathValue("token")
	if err := s.m.RevokeToken(ctx, id); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": id, "revoked": true})
}

// nonNil keeps empty lists as [] in JSON.
func nonNil[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}

// streamWrite bounds each write of a long-lived answer.
const streamWrite = 30 * time.Second

// deadlineWriter sets a write deadline before each write of a stream.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (d deadlineWriter) Write(b []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(streamWrite))
	return d.ResponseWriter.Write(b)
}

func (d deadlineWriter) Flush() { _ = d.rc.Flush() }

// Status summarises the manager.
type Status struct {
	Revision  int64                   `json:"revision"`
	Ready     bool                    `json:"ready"`
	Clusters  []manager.ClusterStatus `json:"clusters"`
	Groups    int                     `json:"groups"`
	Policies  int                     `json:"policies"`
	Rules     int                     `json:"rules"`
	Inventory int                     `json:"inventory_objects"`
	License   manager.LicenseStatus   `json:"license"`
	// EventsFrom is the oldest revision the watch stream resumes from.
	EventsFrom int64 `json:"events_from"`
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	st := Status{Ready: s.m.Ready(), Clusters: s.m.ClusterStatuses(), License: s.m.License(), EventsFrom: s.m.EventsFrom()}
	s.m.Read(func(v manager.View) {
		cfg := v.Config()
		st.Revision, st.Groups, st.Rules = v.Revision(), len(cfg.Groups), len(cfg.Rules)
		st.Policies = len(cfg.SecurityPolicies) + len(cfg.GatewayPolicies)
		st.Inventory = v.Index().Stats().Objects
	})
	writeJSON(w, http.StatusOK, st)
}
