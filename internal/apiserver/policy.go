package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
)

const projectsPrefix = "/orgs/default/projects"

// collections maps the last segment of a list path to the kind it lists.
var collections = map[string]model.Kind{
	"domains": model.KindDomain, "groups": model.KindGroup, "services": model.KindService,
	"security-policies": model.KindSecurityPolicy, "gateway-policies": model.KindGatewayPolicy,
	"rules": model.KindRule, "tier-0s": model.KindTier0, "tier-1s": model.KindTier1,
}

// policy routes everything under /policy/api/v1.
func (s *Server) policy(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/policy/api/v1"), "/")
	switch {
	case strings.HasPrefix(rest, "/kordon/"):
		s.kordon(w, r, strings.TrimPrefix(rest, "/kordon"))
		return
	case rest == projectsPrefix:
		s.projects(w, r)
		return
	}
	space := ""
	if strings.HasPrefix(rest, projectsPrefix+"/") {
		id, sub, _ := strings.Cut(strings.TrimPrefix(rest, projectsPrefix+"/"), "/")
		if sub == "" {
			s.project(w, r, id)
			return
		}
		if _, ok := s.m.Project(id); !ok {
			writeError(w, notFound(fmt.Sprintf("project %q does not exist", id)))
			return
		}
		space, rest = id, "/"+sub
	}
	switch {
	case rest == "/infra":
		s.infra(w, r, space)
	case rest == "/infra/realized-state/status":
		s.realized(w, r, space)
	case strings.Contains(rest, "/members/"):
		s.members(w, r, space, rest)
	case strings.HasSuffix(rest, "/statistics") && (strings.Contains(rest, "/security-policies/") || strings.Contains(rest, "/gateway-policies/")):
		s.statistics(w, r, model.Space(space)+strings.TrimSuffix(rest, "/statistics"))
	case strings.HasPrefix(rest, "/infra/"):
		s.objects(w, r, space, rest)
	default:
		writeError(w, notFound("no API at "+r.URL.Path))
	}
}

func (s *Server) objects(w http.ResponseWriter, r *http.Request, space, rest string) {
	full := model.Space(space) + rest
	if ref, err := model.ParsePath(full); err == nil {
		s.object(w, r, space, ref, full)
		return
	}
	parent, coll := path.Split(rest)
	kind, ok := collections[coll]
	if !ok {
		writeError(w, notFound("no API at "+r.URL.Path))
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, apiError(http.StatusMethodNotAllowed, codeMethod, r.Method+" is not allowed on a list; use GET", nil))
		return
	}
	s.list(w, r, model.Space(space)+strings.TrimSuffix(parent, "/"), kind)
}

// render encodes an object as the API returns it: with its _revision
// and, for policies, its rules.
func render(v manager.View, o model.Object) map[string]any {
	out := fields(o)
	p := o.GetMeta().Path
	if md, ok := v.Meta(p); ok {
		out["_revision"] = md.Revision
	}
	switch o.(type) {
	case *model.SecurityPolicy, *model.GatewayPolicy:
		rules := v.Config().PolicyRules(p)
		sort.SliceStable(rules, func(i, j int) bool { return rules[i].SequenceNumber < rules[j].SequenceNumber })
		list := make([]map[string]any, 0, len(rules))
		for _, r := range rules {
			list = append(list, render(v, r))
		}
		out["rules"] = list
		out["rule_count"] = len(list)
	case *model.Group:
		if _, ok := v.GroupStatus(p); ok {
			out["state"] = "SUCCESS"
		}
	}
	return out
}

func fields(o any) map[string]any {
	b, _ := json.Marshal(o)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func (s *Server) object(w http.ResponseWriter, r *http.Request, space string, ref model.Ref, full string) {
	switch r.Method {
	case http.MethodGet:
		var out map[string]any
		s.m.Read(func(v manager.View) {
			if o, ok := v.Config().Object(full); ok {
				out = render(v, o)
			}
		})
		if out == nil {
			writeError(w, notFound(full+" does not exist"))
			return
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodPut, http.MethodPatch:
		s.putObject(w, r, space, ref, full)
	case http.MethodDelete:
		if model.IsPredefinedService(full) {
			writeError(w, badRequest(full+" is a predefined service and cannot be deleted", nil))
			return
		}
		s.apply(w, r, manager.ApplyRequest{Project: space, Doc: model.Place(ref, model.Stub(ref.Kind, ref.ID), true)}, "")
	default:
		writeError(w, apiError(http.StatusMethodNotAllowed, codeMethod, r.Method+" is not allowed here", nil))
	}
}

// putObject creates or replaces one object. Both PUT and PATCH carry the
// whole object, as NSX's policy API does unless partial patch is enabled;
// PUT of an existing object also needs the _revision last read. PUT of a
// policy with "rules" replaces its rules; PATCH keeps rules it does not
// name.
func (s *Server) putObject(w http.ResponseWriter, r *http.Request, space string, ref model.Ref, full string) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj := model.NewObject(ref.Kind)
	if err := json.Unmarshal(body, obj); err != nil {
		writeError(w, badRequest("the "+string(ref.Kind)+" cannot be decoded", withPath(full, err)))
		return
	}
	m := obj.GetMeta()
	if m.ID == "" {
		m.ID = ref.ID
	}
	if m.ID != ref.ID {
		writeError(w, badRequest(fmt.Sprintf("the body's id %q does not match the path's %q", m.ID, ref.ID), nil))
		return
	}
	var probe struct {
		Revision *int64          `json:"_revision"`
		Rules    json.RawMessage `json:"rules"`
	}
	_ = json.Unmarshal(body, &probe)
	req := manager.ApplyRequest{Project: space, Doc: model.Place(ref, obj, false)}
	if r.Method == http.MethodPut {
		req.RequireExpect = []string{full}
		if probe.Revision != nil {
			req.Expect = map[string]int64{full: *probe.Revision}
		}
		if probe.Rules != nil {
			s.dropUnnamedRules(obj, full)
		}
	}
	s.apply(w, r, req, full)
}

// dropUnnamedRules marks for deletion the rules of a policy a PUT does not
// name.
func (s *Server) dropUnnamedRules(obj model.Object, full string) {
	var pol *model.Policy
	switch p := obj.(type) {
	case *model.SecurityPolicy:
		pol = &p.Policy
	case *model.GatewayPolicy:
		pol = &p.Policy
	default:
		return
	}
	named := map[string]bool{}
	for _, r := range pol.Rules {
		if r != nil {
			named[r.ID] = true
		}
	}
	s.m.Read(func(v manager.View) {
		for _, r := range v.Config().PolicyRules(full) {
			if !named[r.ID] {
				pol.Children = append(pol.Children, model.Child{Type: "ChildRule", MarkedForDelete: true, Object: model.Stub(model.KindRule, r.ID)})
			}
		}
	})
}

func withPath(p string, err error) model.Errors {
	es := model.AsErrors(err)
	for i := range es {
		if es[i].Path == "" {
			es[i].Path = p
		}
	}
	return es
}

// apply commits a change and answers with the object at show (or the
// change's result when show is empty or gone).
func (s *Server) apply(w http.ResponseWriter, r *http.Request, req manager.ApplyRequest, show string) {
	if req.User == "" {
		req.User = principal(r).Name
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	res, err := s.m.Apply(ctx, req)
	if err != nil {
		writeError(w, err)
		return
	}
	if show != "" && !req.DryRun {
		var out map[string]any
		s.m.Read(func(v manager.View) {
			if o, ok := v.Config().Object(show); ok {
				out = render(v, o)
			}
		})
		if out != nil {
			w.Header().Set("X-Kordon-Revision", strconv.FormatInt(res.Revision, 10))
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// listResult is NSX's list envelope.
type listResult struct {
	Results       any    `json:"results"`
	ResultCount   int    `json:"result_count"`
	Cursor        string `json:"cursor,omitempty"`
	SortBy        string `json:"sort_by,omitempty"`
	SortAscending bool   `json:"sort_ascending"`
}

// page cuts a sorted list by NSX's page_size and cursor (an offset here).
func page[T any](r *http.Request, all []T) ([]T, string, error) {
	size := 1000
	if v := r.URL.Query().Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, "", badRequest("page_size must be 1-1000", nil)
		}
		size = n
	}
	start := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > len(all) {
			return nil, "", badRequest("cursor "+c+" is not one this list gave", nil)
		}
		start = n
	}
	end := min(start+size, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next, nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, parent string, kind model.Kind) {
	var items []map[string]any
	s.m.Read(func(v manager.View) {
		cfg := v.Config()
		var paths []string
		add := func(p string, o model.Object) {
			if o.GetMeta().ParentPath == parent {
				paths = append(paths, p)
			}
		}
		switch kind {
		case model.KindDomain:
			eachObj(cfg.Domains, add)
		case model.KindGroup:
			eachObj(cfg.Groups, add)
		case model.KindService:
			eachObj(cfg.Services, add)
			if parent == "/infra" {
				paths = append(paths, model.PredefinedServices()...)
			}
		case model.KindSecurityPolicy:
			eachObj(cfg.SecurityPolicies, add)
		case model.KindGatewayPolicy:
			eachObj(cfg.GatewayPolicies, add)
		case model.KindRule:
			eachObj(cfg.Rules, add)
		case model.KindTier0:
			eachObj(cfg.Tier0s, add)
		case model.KindTier1:
			eachObj(cfg.Tier1s, add)
		}
		sort.Strings(paths)
		for _, p := range paths {
			o, _ := cfg.Object(p)
			items = append(items, render(v, o))
		}
	})
	if items == nil {
		items = []map[string]any{}
	}
	pg, next, err := page(r, items)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, listResult{Results: pg, ResultCount: len(items), Cursor: next, SortBy: "id", SortAscending: true})
}

func eachObj[T model.Object](m map[string]T, fn func(string, model.Object)) {
	for p, o := range m {
		fn(p, o)
	}
}
