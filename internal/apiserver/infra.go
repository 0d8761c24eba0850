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
	body, err := readDocument(r)
	if err != nil {
		writeError(w, err)
		return
	}
	// A document PATCHed again, changed in a few objects, is decoded
	// only in those (the cache holds objects by the SHA-256 of their
	// exact bytes); the objects come with their digests, which let the
	// manager leave alone what is stored as the bytes give it.
	docs, err := s.decodes.ParseChecked(space(r), "request body", body) // readDocument checked it
	if err != nil {
		writeError(w, badRequest("the document cannot be decoded", model.AsErrors(err)))
		return
	}
	if len(docs) != 1 {
		writeError(w, badRequest("send one document", nil))
		return
	}
	dry := r.URL.Query().Get("dry_run") == "true"
	req := manager.ApplyRequest{Project: space(r), Doc: docs[0], DryRun: dry}
	pg, paged, err := dryRunPage(r, dry)
	if err != nil {
		writeError(w, err)
		return
	}
	if !paged {
		s.apply(w, r, req, "")
		return
	}
	if res, ok := s.commit(w, r, req); ok {
		writeJSON(w, http.StatusOK, pg.cut(res))
	}
}

// A dry run of a large document answers with every object it changes
// and every group whose members change: with page_size or cursor, the
// answer holds one page of each list, the same offsets into both, and
// says how long the lists are. Each page is the dry run done again: a
// change made between two pages shifts them (as NSX's list cursors).
type applyPage struct {
	start, size int
}

// pagedApply is one page of a dry run's answer.
type pagedApply struct {
	*manager.ApplyResult
	// ResultCount and GroupChangeCount are the lengths of the whole
	// lists; Cursor asks for the next page of both (absent on the last).
	ResultCount      int    `json:"result_count"`
	GroupChangeCount int    `json:"group_change_count"`
	Cursor           string `json:"cursor,omitempty"`
}

// dryRunPage reads page_size (1-1000, default 1000) and cursor (an
// offset a previous page gave); paged says whether either was given.
// Paging an apply that is not a dry run is refused: the next page would
// apply the document again.
func dryRunPage(r *http.Request, dry bool) (applyPage, bool, error) {
	q := r.URL.Query()
	size, cursor := q.Get("page_size"), q.Get("cursor")
	if size == "" && cursor == "" {
		return applyPage{}, false, nil
	}
	if !dry {
		return applyPage{}, false, badRequest("page_size and cursor page the answer of a dry run (dry_run=true) only", nil)
	}
	pg := applyPage{size: 1000}
	if size != "" {
		n, err := strconv.Atoi(size)
		if err != nil || n < 1 || n > 1000 {
			return pg, false, badRequest("page_size must be 1-1000", nil)
		}
		pg.size = n
	}
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return pg, false, badRequest("cursor "+cursor+" is not one a dry run gave", nil)
		}
		pg.start = n
	}
	return pg, true, nil
}

func (pg applyPage) cut(res *manager.ApplyResult) pagedApply {
	out := pagedApply{ResultCount: len(res.Changes), GroupChangeCount: len(res.Groups)}
	page := *res
	page.Changes = window(res.Changes, pg.start, pg.size)
	page.Groups = window(res.Groups, pg.start, pg.size)
	// Past the end, no cursor (and start+size, from a cursor as large as
	// an int may be, is not computed: it would wrap to a negative one).
	if total := max(len(res.Changes), len(res.Groups)); pg.start < total && total-pg.start > pg.size {
		out.Cursor = strconv.Itoa(pg.start + pg.size)
	}
	out.ApplyResult = &page
	return out
}

// window is l[start:start+size], empty (not null) past the end.
func window[T any](l []T, start, size int) []T {
	start = min(start, len(l))
	return append(make([]T, 0, min(size, len(l)-start)), l[start:min(start+size, len(l))]...)
}

// decodeCacheObjects bounds the decode cache: a generation holds the
// objects of a document of this many (the largest scale benchmarked is
// ~20,100), two generations at most.
const decodeCacheObjects = 50000

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
