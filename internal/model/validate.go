package model

import (
	"fmt"
	"strings"

	"github.com/kordon-dev/kordon/internal/address"
)

// Validate checks the whole configuration: every object on its own
// (nsx-api.md §1.4–1.5 for groups, §3 for policies, rules and services)
// and every reference between objects. It returns every problem found,
// sorted by path; an empty result means the configuration can be applied.
func (c *Config) Validate() Errors { return c.validate(nil) }

// ValidateChange returns what c.Validate returns, for c a configuration
// Apply made with changes from one whose Validate was empty (the caller
// knows it: it validated that one). An object's problems depend on the
// object and on the objects it names (that they exist, and a rule's
// policy), so only the objects changed and those that name one are
// checked again; cycles, which span objects, are looked for in the whole
// configuration.
func (c *Config) ValidateChange(changes []Change) Errors {
	changed := make(map[string]bool, len(changes))
	for _, ch := range changes {
		changed[ch.Path] = true
	}
	again := map[string]bool{}
	c.Each(func(p string, o Object) {
		if changed[p] || Names(o, func(p string) bool { return changed[p] }) {
			again[p] = true
		}
	})
	return c.validate(again)
}

// validate checks the objects at the paths of only (nil: every object)
// and the whole configuration's cycles.
func (c *Config) validate(only map[string]bool) Errors {
	v := &validator{cfg: c}
	some := Paths(only)
	v.texts(only)
	for _, p := range checked(c.Groups, only, some) {
		v.group(p, c.Groups[p])
	}
	v.groupCycles()
	for _, p := range checked(c.Services, only, some) {
		v.service(p, c.Services[p])
	}
	v.serviceCycles()
	for _, p := range checked(c.SecurityPolicies, only, some) {
		v.policy(p, &c.SecurityPolicies[p].Policy, false)
		v.securityPolicy(p, c.SecurityPolicies[p])
	}
	for _, p := range checked(c.GatewayPolicies, only, some) {
		v.policy(p, &c.GatewayPolicies[p].Policy, true)
	}
	for _, p := range checked(c.Rules, only, some) {
		v.rule(p, c.Rules[p])
	}
	for _, p := range checked(c.Tier1s, only, some) {
		t := c.Tier1s[p]
		if t.Tier0Path != "" {
			if _, ok := c.Tier0s[t.Tier0Path]; !ok {
				v.fail(p, "tier0_path", "%s does not exist", t.Tier0Path)
			}
		}
	}
	for _, p := range checked(c.Tier0s, only, some) {
		if r, _ := ParsePath(p); r.Project != "" {
			v.fail(p, "", "tier-0 gateways belong to the provider (default space), not to a project")
		}
	}
	v.errs.Sort()
	return v.errs
}

// checked lists the paths of m to check, sorted: all of them, or those
// of some (the sorted paths of only) when only is not nil.
func checked[T any](m map[string]T, only map[string]bool, some []string) []string {
	if only == nil {
		return Paths(m)
	}
	var out []string
	for _, p := range some {
		if _, ok := m[p]; ok {
			out = append(out, p)
		}
	}
	return out
}

// texts checks the free text of the objects at the paths of only (nil:
// every object; texts.go).
func (v *validator) texts(only map[string]bool) {
	v.cfg.Each(func(p string, o Object) {
		if only != nil && !only[p] {
			return
		}
		v.meta(p, o.GetMeta())
		switch x := o.(type) {
		case *SecurityPolicy:
			v.policyText(p, &x.Policy)
		case *GatewayPolicy:
			v.policyText(p, &x.Policy)
		case *Rule:
			v.text(p, "notes", x.Notes, MaxNotes, true)
			v.text(p, "tag", x.Tag, MaxRuleTag, false)
		case *Tier0:
			v.extra(p, x.Extra)
		case *Tier1:
			v.extra(p, x.Extra)
		}
	})
}

type validator struct {
	cfg  *Config
	errs Errors
}

func (v *validator) fail(path, field, format string, args ...any) {
	v.errs = append(v.errs, Error{Path: path, Field: field, Reason: fmt.Sprintf(format, args...)})
}

func projectOf(path string) string {
	r, _ := ParsePath(path)
	return r.Project
}

func (v *validator) group(p string, g *Group) {
	errs, use := validateGroupShape(p, g)
	v.errs = append(v.errs, errs...)
	ref, _ := ParsePath(p)
	switch t := use.notInProjects; {
	case ref.Project != "" && t != nil && t.Kubernetes:
		v.fail(p, "expression", "Kubernetes inventory is not exposed to projects, so a group with Kubernetes member types cannot be created inside project %q; create it in the default space (/infra/domains/default/groups/...) and use it in default-space DFW or gateway firewall policies", ref.Project)
	case ref.Project != "" && t != nil:
		v.fail(p, "expression", "%s members are not available in projects, so the group cannot be created inside project %q; create it in the default space", t.Name, ref.Project)
	case use.kubernetes && ref.Domain != DefaultDomain:
		v.fail(p, "expression", "groups with Kubernetes member types must be in domain %q, not %q", DefaultDomain, ref.Domain)
	}
	for i, e := range g.Expression {
		pe, ok := e.(*PathExpression)
		if !ok {
			continue
		}
		for j, target := range pe.Paths {
			f := fmt.Sprintf("expression[%d].paths[%d]", i, j)
			tr, err := ParsePath(target)
			switch {
			case err != nil:
				v.fail(p, f, "%v", err)
			case tr.Kind != KindGroup:
				v.fail(p, f, "%s is a %s; a PathExpression includes groups only", target, tr.Kind)
			case target == p:
				v.fail(p, f, "a group cannot include itself")
			case tr.Project != ref.Project:
				v.fail(p, f, "%s is in another space; a group can include only groups of its own space", target)
			default:
				if _, ok := v.cfg.Groups[target]; !ok {
					v.fail(p, f, "group %s does not exist", target)
				}
			}
		}
	}
}

// groupEdges returns the groups a group includes through PathExpressions.
func groupEdges(g *Group) []string {
	var out []string
	for _, e := range g.Expression {
		if pe, ok := e.(*PathExpression); ok {
			out = append(out, pe.Paths...)
		}
	}
	return out
}

func (v *validator) groupCycles() {
	edges := func(p string) []string {
		if g, ok := v.cfg.Groups[p]; ok {
			return groupEdges(g)
		}
		return nil
	}
	for _, cyc := range findCycles(Paths(v.cfg.Groups), edges) {
		v.fail(cyc[0], "expression", "groups include each other in a cycle: %s", strings.Join(cyc, " -> "))
	}
}

// findCycles returns one cycle per strongly connected loop reachable from
// nodes, each starting at its smallest path, in a stable order.
func findCycles(nodes []string, edges func(string) []string) [][]string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var cycles [][]string
	seen := map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, m := range edges(n) {
			switch color[m] {
			case white:
				visit(m)
			case grey:
				i := len(stack) - 1
				for stack[i] != m {
					i--
				}
				cyc := append([]string(nil), stack[i:]...)
				key := canonicalCycle(cyc)
				if !seen[key] {
					seen[key] = true
					cycles = append(cycles, append(rotateMin(cyc), rotateMin(cyc)[0]))
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range nodes {
		if color[n] == white {
			visit(n)
		}
	}
	return cycles
}

func rotateMin(c []string) []string {
	m := 0
	for i := range c {
		if c[i] < c[m] {
			m = i
		}
	}
	return append(append([]string(nil), c[m:]...), c[:m]...)
}

func canonicalCycle(c []string) string { return strings.Join(rotateMin(c), "\x00") }

func (v *validator) service(p string, s *Service) {
	if s.MarkedForDelete {
		return
	}
	if IsPredefinedService(p) {
		v.fail(p, "", "%s is a predefined service and cannot be redefined", p)
	}
	if len(s.ServiceEntries) == 0 {
		v.fail(p, "service_entries", "a service needs at least one entry")
	}
	ids := map[string]bool{}
	for i, e := range s.ServiceEntries {
		f := fmt.Sprintf("service_entries[%d]", i)
		if id := e.EntryMeta().ID; id != "" {
			if ids[id] {
				v.fail(p, f+".id", "entry id %q is used twice", id)
			}
			ids[id] = true
		}
		v.entry(p, f, e)
	}
}

// entry checks one service entry (of a service or of a rule).
func (v *validator) entry(p, f string, e ServiceEntry) {
	switch x := e.(type) {
	case *L4PortSetServiceEntry:
		if x.L4Protocol != "TCP" && x.L4Protocol != "UDP" {
			v.fail(p, f+".l4_protocol", "must be TCP or UDP, got %q", x.L4Protocol)
		}
		if _, err := address.ParsePortList(x.DestinationPorts); err != nil {
			v.fail(p, f+".destination_ports", "%v", err)
		}
		if _, err := address.ParsePortList(x.SourcePorts); err != nil {
			v.fail(p, f+".source_ports", "%v", err)
		}
	case *ICMPTypeServiceEntry:
		if x.Protocol != "ICMPv4" && x.Protocol != "ICMPv6" {
			v.fail(p, f+".protocol", "must be ICMPv4 or ICMPv6, got %q", x.Protocol)
		}
		if x.ICMPType != nil && (*x.ICMPType < 0 || *x.ICMPType > 255) {
			v.fail(p, f+".icmp_type", "must be 0-255, got %d", *x.ICMPType)
		}
		if x.ICMPCode != nil && (*x.ICMPCode < 0 || *x.ICMPCode > 255) {
			v.fail(p, f+".icmp_code", "must be 0-255, got %d", *x.ICMPCode)
		}
		if x.ICMPCode != nil && x.ICMPType == nil {
			v.fail(p, f+".icmp_code", "an ICMP code needs an ICMP type")
		}
	case *IPProtocolServiceEntry:
		if x.ProtocolNumber == nil {
			v.fail(p, f+".protocol_number", "missing")
		} else if *x.ProtocolNumber < 0 || *x.ProtocolNumber > 255 {
			v.fail(p, f+".protocol_number", "must be 0-255, got %d", *x.ProtocolNumber)
		}
	case *IGMPTypeServiceEntry:
	case *NestedServiceServiceEntry:
		v.serviceRef(p, f+".nested_service_path", x.NestedServicePath)
	case *UnsupportedServiceEntry:
		v.fail(p, f, "%s is not supported: kordon enforces layer-3/4 entries (L4PortSet, ICMPType, IPProtocol, IGMPType, NestedService)", x.Type)
	}
}

func (v *validator) serviceCycles() {
	edges := func(p string) []string {
		s, ok := v.cfg.Services[p]
		if !ok {
			return nil
		}
		var out []string
		for _, e := range s.ServiceEntries {
			if n, ok := e.(*NestedServiceServiceEntry); ok {
				out = append(out, n.NestedServicePath)
			}
		}
		return out
	}
	for _, cyc := range findCycles(Paths(v.cfg.Services), edges) {
		v.fail(cyc[0], "service_entries", "services nest each other in a cycle: %s", strings.Join(cyc, " -> "))
	}
}

var (
	dfwCategorySet = setOf(DFWCategories...)
	gfwCategorySet = setOf(GFWCategories...)
	// Categories NSX maintains itself on gateways.
	gfwSystemCategories = setOf(CategorySystemRules, CategoryAutoServiceRules)
	// Categories user-created domains may use on gateways.
	gfwDomainCategories = setOf(CategorySharedPreRules, CategoryLocalGatewayRules)
)

func setOf(xs ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func (v *validator) policy(p string, pol *Policy, gateway bool) {
	ref, _ := ParsePath(p)
	switch {
	case !gateway && pol.Category != "" && !dfwCategorySet[pol.Category]:
		v.fail(p, "category", "%q is not a distributed firewall category (%s)", pol.Category, strings.Join(DFWCategories, ", "))
	case gateway && pol.Category != "" && !gfwCategorySet[pol.Category]:
		v.fail(p, "category", "%q is not a gateway firewall category (%s)", pol.Category, strings.Join(GFWCategories, ", "))
	case gateway && gfwSystemCategories[pol.Category]:
		v.fail(p, "category", "%s rules are maintained by the system; use Emergency, SharedPreRules, LocalGatewayRules or Default", pol.Category)
	case gateway && ref.Domain != DefaultDomain && pol.Category != "" && !gfwDomainCategories[pol.Category]:
		v.fail(p, "category", "gateway policies outside the default domain may use only SharedPreRules or LocalGatewayRules")
	}
	if pol.SequenceNumber < 0 || pol.SequenceNumber > maxPolicySequenceNumber {
		v.fail(p, "sequence_number", "must be 0-%d, got %d", maxPolicySequenceNumber, pol.SequenceNumber)
	}
	if pol.SchedulerPath != "" {
		v.fail(p, "scheduler_path", "time-window schedules are not supported; kordon enforces rules at all times")
	}
	if pol.TCPStrict != nil && *pol.TCPStrict && pol.Stateful != nil && !*pol.Stateful {
		v.fail(p, "tcp_strict", "applies only to stateful policies")
	}
	if pol.Category == CategoryEthernet && pol.Stateful != nil && *pol.Stateful {
		v.fail(p, "stateful", "Ethernet (layer-2) policies are stateless only")
	}
	v.scope(p, "scope", pol.Scope, gateway)
}

func (v *validator) securityPolicy(p string, sp *SecurityPolicy) {
	pref := sp.ConnectivityPreference
	legacy := map[string]string{"WHITELIST": ConnectivityAllowList, "BLACKLIST": ConnectivityDenyList,
		"WHITELIST_ENABLE_LOGGING": ConnectivityAllowListLogging, "BLACKLIST_ENABLE_LOGGING": ConnectivityDenyListLogging,
		"NONE": ConnectivityNone, "": ""}
	strat, ok := legacy[sp.ConnectivityStrategy]
	if !ok {
		v.fail(p, "connectivity_strategy", "unknown value %q", sp.ConnectivityStrategy)
	}
	switch pref {
	case "", ConnectivityNone, ConnectivityAllowList, ConnectivityDenyList, ConnectivityAllowListLogging, ConnectivityDenyListLogging:
	default:
		v.fail(p, "connectivity_preference", "unknown value %q (ALLOWLIST, DENYLIST, ALLOWLIST_ENABLE_LOGGING, DENYLIST_ENABLE_LOGGING, NONE)", pref)
	}
	if pref != "" && strat != "" && pref != strat {
		v.fail(p, "connectivity_strategy", "contradicts connectivity_preference %s", pref)
	}
	if eff := EffectiveConnectivity(sp); eff != "" && eff != ConnectivityNone {
		if IsAny(sp.Scope) {
			v.fail(p, "connectivity_preference", "%s needs the policy's scope (Applied To) to name groups", eff)
		}
		if sp.Category == CategoryEthernet {
			v.fail(p, "connectivity_preference", "applies to layer-3 policies only")
		}
	}
}

// EffectiveConnectivity returns a security policy's connectivity
// preference, translating the deprecated connectivity_strategy.
func EffectiveConnectivity(sp *SecurityPolicy) string {
	if sp.ConnectivityPreference != "" {
		return sp.ConnectivityPreference
	}
	switch sp.ConnectivityStrategy {
	case "WHITELIST":
		return ConnectivityAllowList
	case "BLACKLIST":
		return ConnectivityDenyList
	case "WHITELIST_ENABLE_LOGGING":
		return ConnectivityAllowListLogging
	case "BLACKLIST_ENABLE_LOGGING":
		return ConnectivityDenyListLogging
	}
	return sp.ConnectivityStrategy
}

// scope checks a DFW Applied To list (groups) or a GFW scope (gateways).
func (v *validator) scope(p, field string, scope []string, gateway bool) {
	if len(scope) > maxListEntries {
		v.fail(p, field, "%d entries; at most %d", len(scope), maxListEntries)
	}
	if IsAny(scope) {
		return
	}
	for i, s := range scope {
		f := fmt.Sprintf("%s[%d]", field, i)
		if equalFold(s, anyKeyword) {
			v.fail(p, f, "ANY must be the only entry")
			continue
		}
		r, err := ParsePath(s)
		if err != nil {
			v.fail(p, f, "%v", err)
			continue
		}
		switch {
		case gateway && r.Kind != KindTier0 && r.Kind != KindTier1:
			v.fail(p, f, "a gateway firewall scope names tier-0 or tier-1 gateways, not a %s", r.Kind)
		case gateway:
			// The space first: a project learns nothing of which of the
			// provider's (or another project's) gateways exist.
			if sp := projectOf(p); sp != "" && r.Project != sp {
				v.fail(p, f, "gateway %s is not in project %q: a project's gateway policies apply to its own tier-1 gateways only", s, sp)
			} else if _, ok := v.cfg.Object(s); !ok {
				v.fail(p, f, "gateway %s does not exist", s)
			}
		case r.Kind != KindGroup:
			v.fail(p, f, "a distributed firewall scope (Applied To) names groups, not a %s", r.Kind)
		default:
			v.groupRef(p, f, s)
		}
	}
}

// serviceRef checks a reference from the object at p to the service at
// target: a project uses its own services and those NSX predefines, which
// are shared with every project; never another space's own. The space is
// checked before existence, so the answer tells a project nothing of
// which services another space has.
func (v *validator) serviceRef(p, f, target string) {
	if projectOf(target) != projectOf(p) && !IsPredefinedService(target) {
		v.fail(p, f, "service %s is in another space; rules and services use services of their own space, or predefined ones", target)
		return
	}
	if _, ok := v.cfg.Service(target); !ok {
		v.fail(p, f, "service %s does not exist", target)
	}
}

// groupRef checks a reference from the object at p to the group at
// target, its space before its existence (as serviceRef).
func (v *validator) groupRef(p, f, target string) {
	if projectOf(target) != projectOf(p) {
		v.fail(p, f, "group %s is in another space; policies use groups of their own space", target)
		return
	}
	if _, ok := v.cfg.Groups[target]; !ok {
		// Said so that deleting a group still in use reads as what it is:
		// p, the object that uses it, is named with the problem.
		v.fail(p, f, "group %s does not exist; a group in use must exist (change or delete this use before deleting the group)", target)
	}
}

func (v *validator) rule(p string, r *Rule) {
	ref, _ := ParsePath(r.ParentPath)
	gateway := ref.Kind == KindGatewayPolicy
	var pol *Policy
	if gateway {
		if gp, ok := v.cfg.GatewayPolicies[r.ParentPath]; ok {
			pol = &gp.Policy
		}
	} else if sp, ok := v.cfg.SecurityPolicies[r.ParentPath]; ok {
		pol = &sp.Policy
	}
	if pol == nil {
		v.fail(p, "", "its policy %s does not exist", r.ParentPath)
		return
	}
	switch r.EffectiveAction() {
	case ActionAllow, ActionDrop, ActionReject:
	case ActionJumpToApplication:
		if gateway || pol.Category != CategoryEnvironment {
			v.fail(p, "action", "JUMP_TO_APPLICATION is allowed only in distributed firewall policies of category Environment")
		}
	default:
		v.fail(p, "action", "unknown action %q (ALLOW, DROP, REJECT, JUMP_TO_APPLICATION)", r.Action)
	}
	switch r.EffectiveDirection() {
	case DirectionIn, DirectionOut, DirectionInOut:
	default:
		v.fail(p, "direction", "unknown direction %q (IN, OUT, IN_OUT)", r.Direction)
	}
	switch {
	case pol.Category == CategoryEthernet && r.IPProtocol != "":
		v.fail(p, "ip_protocol", "must be empty for Ethernet (layer-2) rules")
	case r.IPProtocol != "" && r.IPProtocol != IPProtocolV4 && r.IPProtocol != IPProtocolV6 && r.IPProtocol != IPProtocolBoth:
		v.fail(p, "ip_protocol", "unknown value %q (IPV4, IPV6, IPV4_IPV6)", r.IPProtocol)
	}
	if r.SequenceNumber < 0 {
		v.fail(p, "sequence_number", "must not be negative")
	}
	v.endpoints(p, "source_groups", r.SourceGroups)
	v.endpoints(p, "destination_groups", r.DestinationGroups)
	v.services(p, r)
	if !IsAny(r.Profiles) {
		v.fail(p, "profiles", "context profiles (layer-7) are not supported; kordon enforces layers 3 and 4")
	}
	v.scope(p, "scope", r.Scope, gateway)
	if gateway && IsAny(r.Scope) && IsAny(pol.Scope) {
		v.fail(p, "scope", "a gateway firewall rule applies to the tier-0 or tier-1 gateways in its scope or its policy's scope; both are empty")
	}
}

// endpoints checks a source or destination list: ANY alone, group paths of
// the rule's space, or literal addresses.
func (v *validator) endpoints(p, field string, list []string) {
	if len(list) > maxListEntries {
		v.fail(p, field, "%d entries; at most %d", len(list), maxListEntries)
	}
	if IsAny(list) {
		return
	}
	for i, s := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case equalFold(s, anyKeyword):
			v.fail(p, f, "ANY must be the only entry")
		case strings.HasPrefix(s, "/"):
			r, err := ParsePath(s)
			if err != nil {
				v.fail(p, f, "%v", err)
			} else if r.Kind != KindGroup {
				v.fail(p, f, "%s is a %s; sources and destinations are groups or addresses", s, r.Kind)
			} else {
				v.groupRef(p, f, s)
			}
		default:
			if _, err := address.ParseRange(s); err != nil {
				v.fail(p, f, "neither a group path nor an address: %v", err)
			}
		}
	}
}

func (v *validator) services(p string, r *Rule) {
	if len(r.Services) > maxListEntries {
		v.fail(p, "services", "%d entries; at most %d", len(r.Services), maxListEntries)
	}
	if len(r.ServiceEntries) > maxListEntries {
		v.fail(p, "service_entries", "%d entries; at most %d", len(r.ServiceEntries), maxListEntries)
	}
	if !IsAny(r.Services) {
		for i, s := range r.Services {
			f := fmt.Sprintf("services[%d]", i)
			if equalFold(s, anyKeyword) {
				v.fail(p, f, "ANY must be the only entry")
				continue
			}
			v.serviceRef(p, f, s)
		}
	}
	for i, e := range r.ServiceEntries {
		v.entry(p, fmt.Sprintf("service_entries[%d]", i), e)
	}
}
