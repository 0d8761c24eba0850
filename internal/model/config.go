package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Config is the whole policy configuration, flattened: every object is
// keyed by its path, rules are kept apart from their policies (a policy's
// Rules and every Children list are empty here), and the default domain of
// the default space always exists. Objects in a Config are never modified;
// Apply returns a new Config that shares the unchanged ones.
type Config struct {
	Domains          map[string]*Domain
	Groups           map[string]*Group
	Services         map[string]*Service
	SecurityPolicies map[string]*SecurityPolicy
	GatewayPolicies  map[string]*GatewayPolicy
	Rules            map[string]*Rule
	Tier0s           map[string]*Tier0
	Tier1s           map[string]*Tier1
}

// NewConfig returns an empty configuration holding the default domain.
func NewConfig() *Config {
	c := &Config{
		Domains: map[string]*Domain{}, Groups: map[string]*Group{},
		Services: map[string]*Service{}, SecurityPolicies: map[string]*SecurityPolicy{},
		GatewayPolicies: map[string]*GatewayPolicy{}, Rules: map[string]*Rule{},
		Tier0s: map[string]*Tier0{}, Tier1s: map[string]*Tier1{},
	}
	c.Domains[defaultDomainPath("")] = newDomain("", DefaultDomain)
	return c
}

func defaultDomainPath(project string) string {
	return Ref{Project: project, Domain: DefaultDomain, Kind: KindDomain}.Path()
}

func newDomain(project, id string) *Domain {
	r := Ref{Project: project, Domain: id, Kind: KindDomain}
	d := &Domain{}
	d.ResourceType, d.ID, d.DisplayName = string(KindDomain), id, id
	d.Path, d.ParentPath, d.RelativePath = r.Path(), r.Parent(), id
	return d
}

// Clone returns a copy whose maps can be changed without touching c.
func (c *Config) Clone() *Config {
	return &Config{
		Domains: maps.Clone(c.Domains), Groups: maps.Clone(c.Groups),
		Services: maps.Clone(c.Services), SecurityPolicies: maps.Clone(c.SecurityPolicies),
		GatewayPolicies: maps.Clone(c.GatewayPolicies), Rules: maps.Clone(c.Rules),
		Tier0s: maps.Clone(c.Tier0s), Tier1s: maps.Clone(c.Tier1s),
	}
}

// Service returns the service at path, user-defined or predefined.
func (c *Config) Service(path string) (*Service, bool) {
	if s, ok := c.Services[path]; ok {
		return s, true
	}
	s, ok := predefinedServices[path]
	return s, ok
}

// Object returns the object at path, if any.
func (c *Config) Object(path string) (Object, bool) {
	if o, ok := c.stored(path); ok {
		return o, true
	}
	s, ok := predefinedServices[path]
	return s, ok
}

// PolicyRules returns the rules of the policy at policyPath, in path order.
func (c *Config) PolicyRules(policyPath string) []*Rule {
	var out []*Rule
	for p, r := range c.Rules {
		if r.ParentPath == policyPath {
			out = append(out, c.Rules[p])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Paths returns the sorted keys of one of the Config's maps.
func Paths[T any](m map[string]T) []string { return sortedKeys(m) }

// Gateways returns the paths of every tier-0 and tier-1, sorted: the
// enforcement points of the gateway firewall.
func (c *Config) Gateways() []string {
	out := append(Paths(c.Tier0s), Paths(c.Tier1s)...)
	sort.Strings(out)
	return out
}

// ChangeOp says whether Apply created or updated an object, or deleted it.
type ChangeOp string

// Change operations.
const (
	OpUpsert ChangeOp = "upsert"
	OpDelete ChangeOp = "delete"
)

// Change is one object Apply wrote or removed. An object written again
// as it is (server-maintained fields aside, see serverFields) is no change.
type Change struct {
	Op   ChangeOp `json:"op"`
	Kind Kind     `json:"kind"`
	Path string   `json:"path"`
	// Fields lists what an upsert changes in an object that existed, one
	// entry per changed field; empty for a creation and a deletion.
	Fields []FieldChange `json:"fields,omitempty"`
}

// FieldChange is one changed field of an object: Field is its JSON path
// ("display_name", "expression[0].value"), Old and New its JSON values,
// Old absent when the field is added and New when it is removed.
type FieldChange struct {
	Field string          `json:"field"`
	Old   json.RawMessage `json:"old,omitempty"`
	New   json.RawMessage `json:"new,omitempty"`
}

// Apply applies a hierarchical document to the configuration of one space
// (project "" is the default space) with NSX PATCH semantics: objects
// given are created or replaced, objects marked_for_delete are removed with
// everything below them, and objects not mentioned are kept. It returns the
// new Config and what changed; on any error it returns the errors and c is
// unchanged. Apply takes ownership of doc.
func (c *Config) Apply(project string, doc *Infra) (*Config, []Change, error) {
	res, err := c.ApplyWith(project, doc, nil)
	if err != nil {
		return c, nil, err
	}
	return res.Config, res.Changes, nil
}

// Stored says whether the object stored at path is the one a document's
// bytes with digest sum (Child.Sum) made: then the object is unchanged
// whatever its fields, and Apply neither compares them nor replaces it.
// The caller answers from what it wrote, never from a document.
type Stored func(path string, sum Digest) bool

// Applied is what ApplyWith returns.
type Applied struct {
	Config  *Config
	Changes []Change
	// Sums holds the digest of every object the document gave with one
	// (see Child.Sum), by path, but for those stored said are stored as
	// given.
	Sums map[string]Digest
}

// ApplyWith is Apply with stored (which may be nil) telling which
// objects are stored as the document gives them.
func (c *Config) ApplyWith(project string, doc *Infra, stored Stored) (*Applied, error) {
	a := &applier{cfg: c.Clone(), project: project, seen: map[string]string{}, stored: stored,
		sums: map[string]Digest{}, same: map[string]bool{}}
	if stored != nil {
		// A document sent again is about as large as what is stored.
		n := c.Len()
		a.seen, a.sums = make(map[string]string, n), make(map[string]Digest, n)
	}
	if _, ok := a.cfg.Domains[defaultDomainPath(project)]; !ok {
		a.cfg.Domains[defaultDomainPath(project)] = newDomain(project, DefaultDomain)
	}
	a.children("children", parentCtx{kind: "Infra"}, doc.Children)
	if len(a.errs) > 0 {
		a.errs.Sort()
		return nil, a.errs
	}
	return &Applied{Config: a.cfg, Changes: a.final(c), Sums: a.sums}, nil
}

// final returns the changes made, each object once: an upsert that
// leaves an object as it was is dropped (the object of c is kept, so the
// new Config shares it), and an upsert of an object that existed lists
// the fields it changes. A policy written with rules that change is a
// change even when its own fields are not: its _revision is what a PUT
// that replaces its rules is checked against.
func (a *applier) final(prev *Config) []Change {
	type result struct {
		ch   Change
		keep bool
		old  Object // what a dropped upsert restores
		// predefined: old is a predefined service, which is not stored.
		predefined bool
	}
	results := make([]result, 0, len(a.changes))
	seen := make(map[string]bool, len(a.changes))
	rulesChanged := map[string]bool{} // policy paths
	for _, ch := range a.changes {
		r := result{ch: ch, keep: true}
		if ch.Op == OpUpsert {
			if seen[ch.Path] {
				continue
			}
			seen[ch.Path] = true
			old, existed := prev.storedKind(ch.Kind, ch.Path)
			if s, ok := predefinedServices[ch.Path]; ok && !existed && ch.Kind == KindService {
				// A predefined service written as NSX ships it (a list of
				// services read back): no change, and not stored.
				old, existed, r.predefined = s, true, true
			}
			if now, exists := a.cfg.storedKind(ch.Kind, ch.Path); existed && exists {
				if a.same[ch.Path] {
					r.keep, r.old = false, old
				} else {
					r.ch.Fields = diffObjects(old, now)
					r.keep, r.old = len(r.ch.Fields) > 0, old
				}
			}
		}
		if r.keep && ch.Kind == KindRule {
			if i := strings.LastIndex(ch.Path, "/rules/"); i > 0 {
				rulesChanged[ch.Path[:i]] = true
			}
		}
		results = append(results, r)
	}
	out := make([]Change, 0, len(results))
	for _, r := range results {
		if !r.keep && (r.ch.Kind == KindSecurityPolicy || r.ch.Kind == KindGatewayPolicy) && rulesChanged[r.ch.Path] {
			r.keep = true
		}
		switch {
		case r.keep:
			out = append(out, r.ch)
		case r.predefined:
			delete(a.cfg.Services, r.ch.Path)
		default:
			a.cfg.Set(r.ch.Path, r.old)
		}
	}
	return out
}

// storedKinds are the kinds of the objects a Config holds.
var storedKinds = []Kind{KindDomain, KindGroup, KindService, KindSecurityPolicy, KindGatewayPolicy, KindRule, KindTier0, KindTier1}

// stored returns the object at path among c's own (not the predefined
// services).
func (c *Config) stored(path string) (Object, bool) {
	for _, k := range storedKinds {
		if o, ok := c.storedKind(k, path); ok {
			return o, true
		}
	}
	return nil, false
}

// storedKind is stored for an object of kind k: one map, not each.
func (c *Config) storedKind(k Kind, path string) (Object, bool) {
	var o Object
	var ok bool
	switch k {
	case KindDomain:
		o, ok = c.Domains[path]
	case KindGroup:
		o, ok = c.Groups[path]
	case KindService:
		o, ok = c.Services[path]
	case KindSecurityPolicy:
		o, ok = c.SecurityPolicies[path]
	case KindGatewayPolicy:
		o, ok = c.GatewayPolicies[path]
	case KindRule:
		o, ok = c.Rules[path]
	case KindTier0:
		o, ok = c.Tier0s[path]
	case KindTier1:
		o, ok = c.Tier1s[path]
	}
	return o, ok
}

// serverFields (with stampFields) are the fields the manager maintains
// or derives, which a document may carry (an export, `kordon get -o
// yaml`) and which never make a change: stamps, place, and what is
// derived from the object's children (rules, rule_count) or given by the
// manager (a rule's rule_id; a group's state, below).
var serverFields = []string{"marked_for_delete", "children", "rules", "rule_count", "rule_id"}

// stampFields are maintained by the manager on objects and on what they
// hold (a service's entries carry a _revision, as NSX's do).
var stampFields = []string{
	"_revision", "_create_time", "_create_user", "_last_modified_time", "_last_modified_user",
	"_system_owned", "path", "parent_path", "relative_path",
}

func dropStamps(v any) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range stampFields {
			delete(x, k)
		}
		for _, e := range x {
			dropStamps(e)
		}
	case []any:
		for _, e := range x {
			dropStamps(e)
		}
	}
}

// comparableFields returns the fields of o that a change can change, as
// decoded JSON, with the values NSX takes by default made explicit (an
// object read back carries them).
func comparableFields(o Object) map[string]any {
	b, err := json.Marshal(o)
	if err != nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	for _, k := range serverFields {
		delete(m, k)
	}
	dropStamps(m)
	setDefault := func(k string, v any) {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	var p *Policy
	switch x := o.(type) {
	case *Group:
		delete(m, "state") // realization, not configuration
	case *Rule:
		setDefault("is_default", false)
	case *SecurityPolicy:
		p = &x.Policy
	case *GatewayPolicy:
		p = &x.Policy
	}
	if p != nil {
		stateful := p.Category != CategoryEthernet
		if p.Stateful != nil {
			stateful = *p.Stateful
		}
		setDefault("stateful", stateful)
		setDefault("tcp_strict", stateful)
		setDefault("is_default", false)
		setDefault("locked", false)
	}
	return m
}

// diffObjects lists the fields that differ between two versions of an
// object, server-maintained fields aside.
func diffObjects(old, now Object) []FieldChange {
	var out []FieldChange
	diffValues("", comparableFields(old), comparableFields(now), &out)
	return out
}

func diffValues(field string, a, b any, out *[]FieldChange) {
	am, aMap := a.(map[string]any)
	bm, bMap := b.(map[string]any)
	if aMap && bMap {
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			f := k
			if field != "" {
				f = field + "." + k
			}
			av, inA := am[k]
			bv, inB := bm[k]
			switch {
			case inA && inB:
				diffValues(f, av, bv, out)
			case inA:
				*out = append(*out, FieldChange{Field: f, Old: encodeValue(av)})
			default:
				*out = append(*out, FieldChange{Field: f, New: encodeValue(bv)})
			}
		}
		return
	}
	al, aList := a.([]any)
	bl, bList := b.([]any)
	if aList && bList {
		for i := range max(len(al), len(bl)) {
			f := fmt.Sprintf("%s[%d]", field, i)
			switch {
			case i >= len(al):
				*out = append(*out, FieldChange{Field: f, New: encodeValue(bl[i])})
			case i >= len(bl):
				*out = append(*out, FieldChange{Field: f, Old: encodeValue(al[i])})
			default:
				diffValues(f, al[i], bl[i], out)
			}
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, FieldChange{Field: field, Old: encodeValue(a), New: encodeValue(b)})
	}
}

func encodeValue(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// String is how a field change is printed: ~ field: old -> new, + field:
// new, - field: old.
func (f FieldChange) String() string {
	switch {
	case f.Old == nil:
		return "+ " + f.Field + ": " + compact(f.New)
	case f.New == nil:
		return "- " + f.Field + ": " + compact(f.Old)
	}
	return "~ " + f.Field + ": " + compact(f.Old) + " -> " + compact(f.New)
}

// compact is a JSON value on one line (an answer's values come indented).
func compact(v json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return strings.TrimSpace(string(v))
	}
	return b.String()
}

type applier struct {
	cfg     *Config
	project string
	errs    Errors
	changes []Change
	seen    map[string]string // path -> document location that defined it
	stored  Stored
	sums    map[string]Digest // path -> Child.Sum of what the document gave, but for same
	// same: the containers (domains, services, policies) whose stored
	// object is the one the document's bytes made (stored said so),
	// which final keeps without comparing.
	same map[string]bool
}

// parentCtx is where a child sits: under Infra, a Domain, a policy or a
// service.
type parentCtx struct {
	kind   string
	domain string
	policy string // policy id for rules
	pkind  Kind   // policy kind for rules
	svc    string // service path for entries
}

func (a *applier) fail(loc, field, format string, args ...any) {
	a.errs = append(a.errs, Error{Path: loc, Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (a *applier) children(loc string, ctx parentCtx, list ChildList) {
	for i, ch := range list {
		a.child(loc+"["+strconv.Itoa(i)+"]", ctx, ch)
	}
}

// wantParent lists which parent each child type must sit under.
var wantParent = map[string]string{
	"ChildDomain": "Infra", "ChildService": "Infra", "ChildTier0": "Infra", "ChildTier1": "Infra",
	"ChildGroup": "Domain", "ChildSecurityPolicy": "Domain", "ChildGatewayPolicy": "Domain",
	"ChildRule": "Policy", "ChildServiceEntry": "Service",
}

func (a *applier) child(loc string, ctx parentCtx, ch Child) {
	if ch.Type == "ChildResourceReference" {
		a.reference(loc, ctx, ch)
		return
	}
	if want := wantParent[ch.Type]; want != ctx.kind {
		a.fail(loc, "resource_type", "%s must be a child of %s, not of %s", ch.Type, article(want), article(ctx.kind))
		return
	}
	if ch.Entry != nil {
		a.serviceEntry(loc, ctx, ch)
		return
	}
	m := ch.Object.GetMeta()
	key := loc + "." + string(ch.Object.Kind())
	if !ValidID(m.ID) {
		a.fail(key, "id", "missing or invalid id %q: %s", m.ID, IDRule)
		return
	}
	if m.ResourceType != "" && m.ResourceType != string(ch.Object.Kind()) {
		a.fail(key, "resource_type", "is %q inside %s; expected %q", m.ResourceType, ch.Type, ch.Object.Kind())
		return
	}
	ref := a.ref(ctx, ch.Object.Kind(), m.ID)
	path := ref.Path()
	if prev, dup := a.seen[path]; dup {
		a.fail(key, "id", "%s is defined twice in the document (first at %s)", path, prev)
		return
	}
	a.seen[path] = key
	if ch.MarkedForDelete || m.MarkedForDelete {
		if ref.Kind == KindDomain && ref.Domain == DefaultDomain {
			a.fail(key, "marked_for_delete", "the default domain cannot be deleted; delete the objects in it instead")
			return
		}
		a.delete(ref)
		return
	}
	same := false
	if ch.Sum != (Digest{}) {
		// Not when the document deleted it first (with its domain, say).
		_, ok := a.cfg.storedKind(ch.Object.Kind(), path)
		if same = ok && a.stored != nil && a.stored(path, ch.Sum); !same {
			a.sums[path] = ch.Sum
		}
	}
	a.upsert(key, ref, ch.Object, same)
}

func article(s string) string {
	switch s {
	case "Infra":
		return "the Infra root"
	case "Policy":
		return "a SecurityPolicy or GatewayPolicy"
	}
	return "a " + s
}

func (a *applier) ref(ctx parentCtx, k Kind, id string) Ref {
	if k == KindDomain {
		return Ref{Project: a.project, Domain: id, Kind: KindDomain, ID: id}
	}
	return Ref{Project: a.project, Domain: ctx.domain, Kind: k, ID: id, Policy: ctx.policy, PolicyKind: ctx.pkind}
}

func (a *applier) reference(loc string, ctx parentCtx, ch Child) {
	ref := Ref{Project: a.project, Domain: ctx.domain}
	next := parentCtx{domain: ctx.domain}
	switch {
	case ch.TargetType == "Domain" && ctx.kind == "Infra":
		ref.Kind, ref.Domain, next.kind, next.domain = KindDomain, ch.RefID, "Domain", ch.RefID
		if _, ok := a.cfg.Domains[ref.Path()]; !ok {
			a.fail(loc, "id", "domain %q does not exist (create it with a ChildDomain)", ch.RefID)
			return
		}
	case (ch.TargetType == "SecurityPolicy" || ch.TargetType == "GatewayPolicy") && ctx.kind == "Domain":
		ref.Kind, ref.ID = Kind(ch.TargetType), ch.RefID
		next.kind, next.policy, next.pkind = "Policy", ch.RefID, ref.Kind
		if _, ok := a.cfg.Object(ref.Path()); !ok {
			a.fail(loc, "id", "%s does not exist", ref.Path())
			return
		}
	case ch.TargetType == "Service" && ctx.kind == "Infra":
		ref.Kind, ref.ID = KindService, ch.RefID
		next.kind, next.svc = "Service", ref.Path()
		if _, ok := a.cfg.Services[ref.Path()]; !ok {
			a.fail(loc, "id", "%s does not exist", ref.Path())
			return
		}
		// Entries added or removed here change the service beyond what
		// a ChildService earlier in the document gave as bytes: what is
		// stored is no longer what those bytes make, and must not be
		// remembered as such (a document giving only them again would be
		// taken as no change, and leave these entries in place).
		delete(a.sums, ref.Path())
	default:
		a.fail(loc, "target_type", "a ChildResourceReference to %q is not supported under %s (use Domain under Infra, SecurityPolicy or GatewayPolicy under a Domain, Service under Infra)", ch.TargetType, article(ctx.kind))
		return
	}
	a.children(loc+".children", next, ch.Children)
}

// stamp fills in what a stored object derives from its place.
func stamp(m *Meta, k Kind, ref Ref) {
	m.ResourceType = string(k)
	m.Path, m.ParentPath, m.RelativePath = ref.Path(), ref.Parent(), ref.ID
	if k == KindDomain {
		m.RelativePath = ref.Domain
	}
	m.MarkedForDelete = false
	if m.DisplayName == "" {
		m.DisplayName = m.ID
	}
}

// upsert writes obj at ref; same: stored says the object there is as
// the document gives it.
func (a *applier) upsert(loc string, ref Ref, obj Object, same bool) {
	p := ref.Path()
	if same {
		switch obj.(type) {
		case *Group, *Rule, *Tier0, *Tier1:
			return // stored as it is: no change, nothing to compare
		}
		// A container's children are still to apply; final keeps it.
		a.same[p] = true
	}
	a.changes = append(a.changes, Change{Op: OpUpsert, Kind: obj.Kind(), Path: p})
	switch o := obj.(type) {
	case *Domain:
		cp := *o
		cp.Children = nil
		stamp(&cp.Meta, KindDomain, ref)
		a.cfg.Domains[p] = &cp
		a.children(loc+".children", parentCtx{kind: "Domain", domain: o.ID}, o.Children)
	case *Group:
		cp := *o
		stamp(&cp.Meta, KindGroup, ref)
		a.cfg.Groups[p] = &cp
	case *Service:
		cp := *o
		cp.Children = nil
		stamp(&cp.Meta, KindService, ref)
		a.cfg.Services[p] = &cp
		a.children(loc+".children", parentCtx{kind: "Service", svc: p}, o.Children)
	case *SecurityPolicy:
		cp := *o
		cp.Rules, cp.Children = nil, nil
		stamp(&cp.Meta, KindSecurityPolicy, ref)
		a.cfg.SecurityPolicies[p] = &cp
		a.policyRules(loc, ref, &o.Policy)
	case *GatewayPolicy:
		cp := *o
		cp.Rules, cp.Children = nil, nil
		stamp(&cp.Meta, KindGatewayPolicy, ref)
		a.cfg.GatewayPolicies[p] = &cp
		a.policyRules(loc, ref, &o.Policy)
	case *Rule:
		cp := *o
		stamp(&cp.Meta, KindRule, ref)
		a.cfg.Rules[p] = &cp
	case *Tier0:
		cp := *o
		stamp(&cp.Meta, KindTier0, ref)
		a.cfg.Tier0s[p] = &cp
	case *Tier1:
		cp := *o
		stamp(&cp.Meta, KindTier1, ref)
		a.cfg.Tier1s[p] = &cp
	}
}

// policyRules applies a policy's inline rules (NSX PATCH keeps rules not
// mentioned) and its ChildRule children.
func (a *applier) policyRules(loc string, ref Ref, p *Policy) {
	ctx := parentCtx{kind: "Policy", domain: ref.Domain, policy: ref.ID, pkind: ref.Kind}
	for i, r := range p.Rules {
		if r == nil {
			a.fail(fmt.Sprintf("%s.rules[%d]", loc, i), "", "a rule cannot be null")
			continue
		}
		a.child(fmt.Sprintf("%s.rules[%d]", loc, i), ctx, Wrap(r))
	}
	a.children(loc+".children", ctx, p.Children)
}

func (a *applier) serviceEntry(loc string, ctx parentCtx, ch Child) {
	m := ch.Entry.EntryMeta()
	if !ValidID(m.ID) {
		a.fail(loc+".ServiceEntry", "id", "missing or invalid id %q: %s", m.ID, IDRule)
		return
	}
	svc := *a.cfg.Services[ctx.svc]
	entries := make(ServiceEntryList, 0, len(svc.ServiceEntries)+1)
	for _, e := range svc.ServiceEntries {
		if e.EntryMeta().ID != m.ID {
			entries = append(entries, e)
		}
	}
	if !ch.MarkedForDelete && !m.MarkedForDelete {
		entries = append(entries, ch.Entry)
	}
	svc.ServiceEntries = entries
	a.cfg.Services[ctx.svc] = &svc
	delete(a.same, ctx.svc) // the service is no longer as its bytes gave it
	a.changes = append(a.changes, Change{Op: OpUpsert, Kind: KindService, Path: ctx.svc})
}

func (a *applier) delete(ref Ref) {
	p := ref.Path()
	del := func(k Kind, path string, ok bool) {
		if ok {
			a.changes = append(a.changes, Change{Op: OpDelete, Kind: k, Path: path})
		}
	}
	switch ref.Kind {
	case KindDomain:
		for _, m := range []func(prefix string){
			deleteUnder(a.cfg.Groups, KindGroup, del), deleteUnder(a.cfg.SecurityPolicies, KindSecurityPolicy, del),
			deleteUnder(a.cfg.GatewayPolicies, KindGatewayPolicy, del), deleteUnder(a.cfg.Rules, KindRule, del),
		} {
			m(p + "/")
		}
		_, ok := a.cfg.Domains[p]
		delete(a.cfg.Domains, p)
		del(KindDomain, p, ok)
	case KindGroup:
		_, ok := a.cfg.Groups[p]
		delete(a.cfg.Groups, p)
		del(KindGroup, p, ok)
	case KindService:
		_, ok := a.cfg.Services[p]
		delete(a.cfg.Services, p)
		del(KindService, p, ok)
	case KindSecurityPolicy, KindGatewayPolicy:
		deleteUnder(a.cfg.Rules, KindRule, del)(p + "/")
		_, ok1 := a.cfg.SecurityPolicies[p]
		_, ok2 := a.cfg.GatewayPolicies[p]
		delete(a.cfg.SecurityPolicies, p)
		delete(a.cfg.GatewayPolicies, p)
		del(ref.Kind, p, ok1 || ok2)
	case KindRule:
		_, ok := a.cfg.Rules[p]
		delete(a.cfg.Rules, p)
		del(KindRule, p, ok)
	case KindTier0:
		_, ok := a.cfg.Tier0s[p]
		delete(a.cfg.Tier0s, p)
		del(KindTier0, p, ok)
	case KindTier1:
		_, ok := a.cfg.Tier1s[p]
		delete(a.cfg.Tier1s, p)
		del(KindTier1, p, ok)
	}
}

func deleteUnder[T any](m map[string]T, k Kind, del func(Kind, string, bool)) func(prefix string) {
	return func(prefix string) {
		var under []string
		for p := range m {
			if len(p) > len(prefix) && p[:len(prefix)] == prefix {
				under = append(under, p)
			}
		}
		sort.Strings(under) // changes in a stable order
		for _, p := range under {
			delete(m, p)
			del(k, p, true)
		}
	}
}

// Set stores obj at path in c. It is for the owner of a Config built
// from stored objects (Apply is how configurations change); obj must
// already carry its path fields.
func (c *Config) Set(path string, obj Object) {
	switch o := obj.(type) {
	case *Domain:
		c.Domains[path] = o
	case *Group:
		c.Groups[path] = o
	case *Service:
		c.Services[path] = o
	case *SecurityPolicy:
		c.SecurityPolicies[path] = o
	case *GatewayPolicy:
		c.GatewayPolicies[path] = o
	case *Rule:
		c.Rules[path] = o
	case *Tier0:
		c.Tier0s[path] = o
	case *Tier1:
		c.Tier1s[path] = o
	}
}

// Remove deletes the object at path from c (see Set).
func (c *Config) Remove(path string) {
	for _, m := range []interface{ del(string) }{
		mapDel[*Domain](c.Domains), mapDel[*Group](c.Groups), mapDel[*Service](c.Services),
		mapDel[*SecurityPolicy](c.SecurityPolicies), mapDel[*GatewayPolicy](c.GatewayPolicies),
		mapDel[*Rule](c.Rules), mapDel[*Tier0](c.Tier0s), mapDel[*Tier1](c.Tier1s),
	} {
		m.del(path)
	}
}

type mapDel[T any] map[string]T

func (m mapDel[T]) del(p string) { delete(m, p) }

// Len counts the objects of c.
func (c *Config) Len() int {
	return len(c.Domains) + len(c.Groups) + len(c.Services) + len(c.SecurityPolicies) +
		len(c.GatewayPolicies) + len(c.Rules) + len(c.Tier0s) + len(c.Tier1s)
}
