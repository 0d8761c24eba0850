package apiserver

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
)

// getInfra exports the space as one hierarchical document; PATCHing it
// back reproduces the space. The encoding is kept until the
// configuration changes.
func (s *Server) getInfra(w http.ResponseWriter, r *http.Request) {
	sp := space(r)
	var cfg *model.Config
	s.m.Read(func(v manager.View) { cfg = v.Config() })
	d := s.infra.get(cfg, sp, func() []byte {
		data, err := json.MarshalIndent(export(cfg, sp), "", "  ")
		if err != nil {
			panic(err) // the configuration's own types always encode
		}
		return append(data, '\n')
	})
	b := d.plain
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		b = d.gz
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	writeShared(w, b)
}

// patchInfra applies a hierarchical document atomically (?dry_run=true
// reports what it would change, membership included, and changes
// nothing).
func (s *Server) patchInfra(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	docs, err := model.ParseDocument("request body", body)
	if err != nil {
		writeError(w, badRequest("the document cannot be decoded", model.AsErrors(err)))
		return
	}
	if len(docs) != 1 {
		writeError(w, badRequest("send one document", nil))
		return
	}
	dry := r.URL.Query().Get("dry_run") == "true"
	s.apply(w, r, manager.ApplyRequest{Project: space(r), Doc: docs[0], DryRun: dry}, "")
}

// export builds the hierarchical document of one space, objects in path
// order; PATCHing it back reproduces the space.
func export(cfg *model.Config, space string) *model.Infra {
	prefix := model.Space(space) + "/infra/"
	in := func(p string) bool { return strings.HasPrefix(p, prefix) }
	doc := &model.Infra{}
	for _, p := range model.Paths(cfg.Tier0s) {
		if in(p) {
			doc.Children = append(doc.Children, model.Wrap(cfg.Tier0s[p]))
		}
	}
	for _, p := range model.Paths(cfg.Tier1s) {
		if in(p) {
			doc.Children = append(doc.Children, model.Wrap(cfg.Tier1s[p]))
		}
	}
	for _, p := range model.Paths(cfg.Services) {
		if in(p) {
			doc.Children = append(doc.Children, model.Wrap(cfg.Services[p]))
		}
	}
	for _, dp := range model.Paths(cfg.Domains) {
		if !in(dp) {
			continue
		}
		d := *cfg.Domains[dp]
		d.Children = nil
		under := func(p string) bool { return strings.HasPrefix(p, dp+"/") }
		for _, p := range model.Paths(cfg.Groups) {
			if under(p) {
				d.Children = append(d.Children, model.Wrap(cfg.Groups[p]))
			}
		}
		for _, p := range model.Paths(cfg.SecurityPolicies) {
			if under(p) {
				sp := *cfg.SecurityPolicies[p]
				sp.Children = ruleChildren(cfg, p)
				d.Children = append(d.Children, model.Wrap(&sp))
			}
		}
		for _, p := range model.Paths(cfg.GatewayPolicies) {
			if under(p) {
				gp := *cfg.GatewayPolicies[p]
				gp.Children = ruleChildren(cfg, p)
				d.Children = append(d.Children, model.Wrap(&gp))
			}
		}
		doc.Children = append(doc.Children, model.Wrap(&d))
	}
	return doc
}

func ruleChildren(cfg *model.Config, policy string) model.ChildList {
	rules := cfg.PolicyRules(policy)
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].SequenceNumber < rules[j].SequenceNumber })
	var out model.ChildList
	for _, r := range rules {
		out = append(out, model.Wrap(r))
	}
	return out
}

// acceptsGzip reports whether the client takes a gzip answer.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
