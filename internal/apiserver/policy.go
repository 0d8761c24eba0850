package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
)

// objectRef is the object a request's route names.
func objectRef(r *http.Request, o objectRoute) model.Ref {
	ref := model.Ref{Project: space(r), Domain: r.PathValue("domain"), Kind: o.kind, ID: r.PathValue("id")}
	switch o.kind {
	case model.KindDomain:
		ref.ID = ref.Domain
	case model.KindRule:
		ref.Policy, ref.PolicyKind = r.PathValue("policy"), o.policy
	}
	return ref
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, o objectRoute) {
	full := objectRef(r, o).Path()
	var snap *rendered
	s.m.Read(func(v manager.View) {
		if obj, ok := v.Config().Object(full); ok {
			r := snapshot(v, obj)
			snap = &r
		}
	})
	if snap == nil {
		writeError(w, notFound(full+" does not exist"))
		return
	}
	writeJSON(w, http.StatusOK, snap.encode())
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, o objectRoute) {
	ref := objectRef(r, o)
	full := ref.Path()
	if model.IsPredefinedService(full) {
		writeError(w, badRequest(full+" is a predefined service and cannot be deleted", nil))
		return
	}
	exists := false
	var users []reference
	s.m.Read(func(v manager.View) {
		if _, exists = v.Config().Object(full); exists {
			users = referrers(v.Config(), full)
		}
	})
	if !exists {
		writeError(w, notFound(full+" does not exist"))
		return
	}
	if len(users) > 0 {
		writeError(w, inUse(r, full, users))
		return
	}
	req := manager.ApplyRequest{Project: space(r), Doc: model.Place(ref, model.Stub(ref.Kind, ref.ID), true), User: principal(r).Name}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	res, err := s.m.Apply(ctx, req)
	if err != nil && errors.Is(err, manager.ErrInvalid) {
		// A reference made since the check above: say so the same way.
		s.m.Read(func(v manager.View) { users = referrers(v.Config(), full) })
		if len(users) > 0 {
			err = inUse(r, full, users)
		}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// rendered is an object as the API returns it, taken from a view under
// the state's read lock (cheap: pointers and revisions); it is encoded
// after the lock is released, so a large list never holds writers up.
// Objects of a configuration are immutable, which makes that safe.
type rendered struct {
	obj      model.Object
	revision int64
	hasRev   bool
	rules    []rendered // a policy's, in sequence order
	policy   bool
	realized bool // a group whose members are computed
	// noRules leaves a policy's rules out (rule_count stays): a list
	// asked with include_rules=false, whose reader pages through rules
	// itself (the console's firewall tables).
	noRules bool
}

// snapshot takes what rendering an object needs from the view.
func snapshot(v manager.View, o model.Object) rendered {
	return snapshotWith(v, o, v.Config().PolicyRules)
}

// snapshotWith is snapshot with the rules of a policy from rulesOf: a list
// of policies indexes the rules once instead of scanning them for each.
func snapshotWith(v manager.View, o model.Object, rulesOf func(string) []*model.Rule) rendered {
	p := o.GetMeta().Path
	r := rendered{obj: o}
	if md, ok := v.Meta(p); ok {
		r.revision, r.hasRev = md.Revision, true
	}
	switch o.(type) {
	case *model.SecurityPolicy, *model.GatewayPolicy:
		r.policy = true
		rules := rulesOf(p)
		sort.SliceStable(rules, func(i, j int) bool { return rules[i].SequenceNumber < rules[j].SequenceNumber })
		for _, rl := range rules {
			r.rules = append(r.rules, snapshot(v, rl))
		}
	case *model.Group:
		_, r.realized = v.GroupStatus(p)
	}
	return r
}

// encode renders the object as NSX returns it: with its _revision, the
// fields NSX always returns (nsxDefaults) and, for policies, its rules.
func (r rendered) encode() map[string]any {
	out := fields(r.obj)
	nsxDefaults(out, r.obj)
	if r.hasRev {
		out["_revision"] = r.revision
	}
	if r.policy && r.noRules {
		out["rule_count"] = len(r.rules)
	} else if r.policy {
		list := make([]map[string]any, 0, len(r.rules))
		for _, rl := range r.rules {
			list = append(list, rl.encode())
		}
		out["rules"] = list
		out["rule_count"] = len(list)
	}
	if r.realized {
		out["state"] = "SUCCESS"
	}
	return out
}

// nsxDefaults adds what NSX returns on every object of a kind and kordon
// stores only when it was given: marked_for_delete (never true for an
// object one can read), is_default of policies and rules, and a policy's
// stateful and tcp_strict with NSX's defaults (stateful unless a layer-2,
// Ethernet, policy; TCP strict when stateful).
func nsxDefaults(out map[string]any, o model.Object) {
	setDefault(out, "marked_for_delete", false)
	var pol *model.Policy
	switch x := o.(type) {
	case *model.SecurityPolicy:
		pol = &x.Policy
	case *model.GatewayPolicy:
		pol = &x.Policy
	case *model.Rule:
		setDefault(out, "is_default", false)
	}
	if pol == nil {
		return
	}
	stateful := pol.Category != model.CategoryEthernet
	if pol.Stateful != nil {
		stateful = *pol.Stateful
	}
	setDefault(out, "stateful", stateful)
	setDefault(out, "tcp_strict", stateful)
	setDefault(out, "is_default", false)
}

func setDefault(out map[string]any, k string, v any) {
	if _, ok := out[k]; !ok {
		out[k] = v
	}
}

func fields(o any) map[string]any {
	b, _ := json.Marshal(o)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// putObject creates or replaces one object. Both PUT and PATCH carry the
// whole object, as NSX's policy API does unless partial patch is enabled;
// PUT of an existing object also needs the _revision last read. PUT of a
// policy with "rules" replaces its rules; PATCH keeps rules it does not
// name.
func (s *Server) putObject(w http.ResponseWriter, r *http.Request, o objectRoute) {
	ref := objectRef(r, o)
	full := ref.Path()
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
	req := manager.ApplyRequest{Project: space(r), Doc: model.Place(ref, obj, false)}
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
	res, ok := s.commit(w, r, req)
	if !ok {
		return
	}
	if show != "" && !req.DryRun {
		var snap *rendered
		s.m.Read(func(v manager.View) {
			if o, ok := v.Config().Object(show); ok {
				r := snapshot(v, o)
				snap = &r
			}
		})
		if snap != nil {
			w.Header().Set("X-Kordon-Revision", strconv.FormatInt(res.Revision, 10))
			writeJSON(w, http.StatusOK, snap.encode())
			return
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// commit applies req in the caller's name; when it fails, the error is
// the answer, and ok is false.
func (s *Server) commit(w http.ResponseWriter, r *http.Request, req manager.ApplyRequest) (res *manager.ApplyResult, ok bool) {
	if req.User == "" {
		req.User = principal(r).Name
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	res, err := s.m.Apply(ctx, req)
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	return res, true
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

// list serves a collection: the objects of one kind whose parent is the
// route's (a domain, a policy, or the space's /infra).
func (s *Server) list(w http.ResponseWriter, r *http.Request, l objectRoute) {
	parent := model.Space(space(r)) + "/infra"
	switch l.kind {
	case model.KindGroup, model.KindSecurityPolicy, model.KindGatewayPolicy:
		parent = model.Ref{Project: space(r), Domain: r.PathValue("domain"), Kind: model.KindDomain}.Path()
	case model.KindRule:
		parent = model.Ref{Project: space(r), Domain: r.PathValue("domain"), Kind: l.policy, ID: r.PathValue("policy")}.Path()
	}
	kind := l.kind
	spec, err := parseSort(r, "id", objectOrders)
	if err != nil {
		writeError(w, err)
		return
	}
	noRules := false
	switch v := r.URL.Query().Get("include_rules"); v {
	case "", "true":
	case "false":
		noRules = true
	default:
		writeError(w, badRequest("include_rules must be true or false", nil))
		return
	}
	var snaps []rendered
	s.m.Read(func(v manager.View) {
		cfg := v.Config()
		var objs []model.Object
		add := func(_ string, o model.Object) {
			if o.GetMeta().ParentPath == parent {
				objs = append(objs, o)
			}
		}
		switch kind {
		case model.KindDomain:
			eachObj(cfg.Domains, add)
		case model.KindGroup:
			eachObj(cfg.Groups, add)
		case model.KindService:
			eachObj(cfg.Services, add)
			if parent == "/infra" || space(r) != "" && parent == model.Space(space(r))+"/infra" {
				// Predefined services are shared with every project.
				for _, p := range model.PredefinedServices() {
					o, _ := cfg.Service(p)
					objs = append(objs, o)
				}
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
		sortItems(objs, spec, objectOrders, byPath)
		rulesOf := cfg.PolicyRules
		if kind == model.KindSecurityPolicy || kind == model.KindGatewayPolicy {
			byPolicy := map[string][]*model.Rule{}
			for _, rl := range cfg.Rules {
				byPolicy[rl.ParentPath] = append(byPolicy[rl.ParentPath], rl)
			}
			rulesOf = func(p string) []*model.Rule {
				l := byPolicy[p]
				sort.Slice(l, func(i, j int) bool { return l[i].Path < l[j].Path }) // as PolicyRules orders them
				return l
			}
		}
		for _, o := range objs {
			sn := snapshotWith(v, o, rulesOf)
			sn.noRules = noRules
			snaps = append(snaps, sn)
		}
	})
	writeObjectPage(w, r, snaps, spec)
}

// writeObjectPage answers one page of rendered objects, in NSX's list
// shape, as lists and search do.
func writeObjectPage(w http.ResponseWriter, r *http.Request, snaps []rendered, spec sortSpec) {
	pg, next, err := page(r, snaps)
	if err != nil {
		writeError(w, err)
		return
	}
	items := make([]map[string]any, 0, len(pg))
	for _, sn := range pg {
		items = append(items, sn.encode())
	}
	writeJSON(w, http.StatusOK, listResult{Results: items, ResultCount: len(snaps), Cursor: next, SortBy: spec.by, SortAscending: spec.asc})
}

func eachObj[T model.Object](m map[string]T, fn func(string, model.Object)) {
	for p, o := range m {
		fn(p, o)
	}
}
