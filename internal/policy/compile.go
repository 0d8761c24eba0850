package policy

import (
	"sort"
	"strings"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/model"
)

// Members is what compiling needs from the membership engine: each
// group's addresses and address+port members.
type Members interface {
	IPSet(group string) *netipx.IPSet
	IPPorts(group string) []address.IPPort
}

// Point is where a ruleset is enforced.
type Point struct {
	// Gateway is the path of the tier-0 or tier-1 gateway for the gateway
	// firewall; empty for the distributed firewall.
	Gateway string
	// AppliedTo, for the distributed firewall at a known VM, says whether
	// a rule's scope (Applied To: group paths; empty means everywhere)
	// covers the VM. Nil means the VM is not known (offline): a rule with
	// a scope then applies to flows whose source or destination (as its
	// direction says) is in the scope's groups.
	AppliedTo func(scope []string) bool
	// Direction, for the distributed firewall, keeps only rules that
	// apply in that direction (InOut keeps all).
	Direction Direction
	// Project is the space of a distributed firewall enforcement point
	// ("" for the default space). A gateway's space is its path's.
	Project string
}

// Ruleset is the ordered rules of one enforcement point.
type Ruleset struct {
	Point Point
	Rules []Rule
	// appStart is the first rule after the Environment category: where a
	// JUMP_TO_APPLICATION continues.
	appStart int
}

// AppStart returns the index where JUMP_TO_APPLICATION continues.
func (rs *Ruleset) AppStart() int { return rs.appStart }

// category ranks for ordering; -1 means "not evaluated for L3 flows".
var (
	dfwRank = map[string]int{model.CategoryEthernet: -1, model.CategoryEmergency: 0, model.CategoryInfrastructure: 1, model.CategoryEnvironment: 2, model.CategoryApplication: 3, "": 4}
	gfwRank = map[string]int{model.CategoryEmergency: 0, model.CategorySystemRules: 1, model.CategorySharedPreRules: 2, model.CategoryLocalGatewayRules: 3, "": 3, model.CategoryAutoServiceRules: 4, model.CategoryDefault: 5}
)

const (
	defaultSectionRank = 5 // the DFW's default layer-3 section comes last
	envRank            = 2
)

type orderedPolicy struct {
	path string
	rank int
	// provider orders the default space's policies first within a
	// category, so a project can never place a rule before the
	// provider's at its own enforcement points.
	provider bool
	seq      int64
	policy   *model.Policy
	sp       *model.SecurityPolicy
}

// Compile builds the ruleset of an enforcement point from a validated
// configuration and the current memberships. Disabled rules, Ethernet
// rules and rules whose scope does not cover the point are left out.
func Compile(cfg *model.Config, m Members, pt Point) *Ruleset {
	c := &compiler{cfg: cfg, m: m, groups: map[string]*groupSets{}, byPolicy: map[string][]*model.Rule{}}
	for _, r := range cfg.Rules {
		c.byPolicy[r.ParentPath] = append(c.byPolicy[r.ParentPath], r)
	}
	rs := &Ruleset{Point: pt, appStart: -1}
	for _, op := range c.policies(pt) {
		if rs.appStart < 0 && op.rank > envRank && pt.Gateway == "" {
			rs.appStart = len(rs.Rules)
		}
		rules := c.byPolicy[op.path]
		sort.Slice(rules, func(i, j int) bool {
			return RuleBefore(rules[i].SequenceNumber, rules[i].Path, rules[j].SequenceNumber, rules[j].Path)
		})
		for _, r := range rules {
			if r.Disabled || !c.applies(pt, op.policy, r.Scope) {
				continue
			}
			if pt.Gateway == "" && pt.Direction != InOut {
				if d := direction(r.EffectiveDirection()); d != InOut && d != pt.Direction {
					continue
				}
			}
			cr := c.rule(op, r)
			c.offlineScope(pt, &cr, effectiveScope(op.policy, r.Scope))
			rs.Rules = append(rs.Rules, cr)
		}
		if op.sp != nil && c.applies(pt, op.policy, nil) {
			if d, ok := policyDefault(op); ok {
				c.offlineScope(pt, &d, effectiveScope(op.policy, nil))
				rs.Rules = append(rs.Rules, d)
			}
		}
	}
	if rs.appStart < 0 {
		rs.appStart = len(rs.Rules)
	}
	return rs
}

type compiler struct {
	cfg      *model.Config
	m        Members
	groups   map[string]*groupSets
	byPolicy map[string][]*model.Rule
}

type groupSets struct {
	ranges  []netipx.IPRange
	ipPorts []address.IPPort
}

// policies returns the policies of one firewall in evaluation order.
//
// Tenancy: an enforcement point sees the policies of the default space
// (the provider's, which apply everywhere they are scoped) and of its own
// project, never another project's. Validation already keeps a project's
// gateway policies to its own gateways; this holds it again here, for any
// configuration.
func (c *compiler) policies(pt Point) []orderedPolicy {
	var out []orderedPolicy
	space := pt.Project
	if pt.Gateway != "" {
		space = projectOf(pt.Gateway)
	}
	visible := func(p string) (provider, ok bool) {
		sp := projectOf(p)
		return sp == "", sp == "" || sp == space
	}
	if pt.Gateway != "" {
		for p, gp := range c.cfg.GatewayPolicies {
			provider, ok := visible(p)
			if !ok {
				continue
			}
			out = append(out, orderedPolicy{path: p, rank: gfwRank[gp.Category], provider: provider, seq: gp.SequenceNumber, policy: &gp.Policy})
		}
	} else {
		for p, sp := range c.cfg.SecurityPolicies {
			provider, ok := visible(p)
			if !ok {
				continue
			}
			rank := dfwRank[sp.Category]
			if rank < 0 {
				continue
			}
			if isDefaultSection(p) {
				rank = defaultSectionRank
			}
			out = append(out, orderedPolicy{path: p, rank: rank, provider: provider, seq: sp.SequenceNumber, policy: &sp.Policy, sp: sp})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].order().Before(out[j].order()) })
	return out
}

func (op orderedPolicy) order() PolicyOrder {
	return PolicyOrder{Rank: op.rank, Provider: op.provider, Seq: op.seq, Path: op.path}
}

// PolicyOrder is where a policy sits in its firewall's evaluation order:
// by category, the provider's (default space) before a project's within
// one, then by sequence number and path. Readers that show policies in
// that order (the console) sort by it, so they cannot disagree with what
// is enforced.
type PolicyOrder struct {
	Rank     int
	Provider bool
	Seq      int64
	Path     string
}

// Before reports whether a policy at a is evaluated before one at b.
func (a PolicyOrder) Before(b PolicyOrder) bool {
	if a.Rank != b.Rank {
		return a.Rank < b.Rank
	}
	if a.Provider != b.Provider {
		return a.Provider
	}
	if a.Seq != b.Seq {
		return a.Seq < b.Seq
	}
	return a.Path < b.Path
}

// SecurityPolicyOrder is a security policy's place in the DFW. Layer-2
// (Ethernet) policies are ranked first, as NSX lists them, though no
// layer-3 flow meets them (Compile leaves them out).
func SecurityPolicyOrder(path, category string, seq int64) PolicyOrder {
	rank := dfwRank[category] // as Compile ranks it; validation admits only the table's categories
	if isDefaultSection(path) {
		rank = defaultSectionRank
	}
	return PolicyOrder{Rank: rank, Provider: projectOf(path) == "", Seq: seq, Path: path}
}

// GatewayPolicyOrder is a gateway policy's place in the gateway firewall.
func GatewayPolicyOrder(path, category string, seq int64) PolicyOrder {
	return PolicyOrder{Rank: gfwRank[category], Provider: projectOf(path) == "", Seq: seq, Path: path}
}

// RuleBefore reports whether, within one policy, the rule (seqA, pathA) is
// evaluated before (seqB, pathB).
func RuleBefore(seqA int64, pathA string, seqB int64, pathB string) bool {
	if seqA != seqB {
		return seqA < seqB
	}
	return pathA < pathB
}

func projectOf(path string) string {
	r, err := model.ParsePath(path)
	if err != nil {
		return "\x00unparsable" // a space no enforcement point is in
	}
	return r.Project
}

func isDefaultSection(path string) bool {
	r, err := model.ParsePath(path)
	return err == nil && r.ID == model.DefaultLayer3SectionID && r.Domain == model.DefaultDomain && r.Project == ""
}

// effectiveScope is the scope a rule is applied to: the policy's, when
// set, replaces the rule's.
func effectiveScope(pol *model.Policy, ruleScope []string) []string {
	if !model.IsAny(pol.Scope) {
		return pol.Scope
	}
	return ruleScope
}

// offlineScope gives a DFW rule its Applied To addresses when the
// enforcement point is not known.
func (c *compiler) offlineScope(pt Point, r *Rule, scope []string) {
	if pt.Gateway != "" || pt.AppliedTo != nil || model.IsAny(scope) {
		return
	}
	var b netipx.IPSetBuilder
	for _, g := range scope {
		for _, rg := range c.group(g).ranges {
			b.AddRange(rg)
		}
	}
	r.AppliedTo, _ = b.IPSet()
}

// applies decides whether a rule with the given scope applies at the
// point.
func (c *compiler) applies(pt Point, pol *model.Policy, ruleScope []string) bool {
	scope := effectiveScope(pol, ruleScope)
	if pt.Gateway != "" {
		for _, s := range scope {
			if s == pt.Gateway {
				return true
			}
		}
		return false
	}
	if pt.AppliedTo == nil || model.IsAny(scope) {
		return true
	}
	return pt.AppliedTo(scope)
}

func direction(s string) Direction {
	switch s {
	case model.DirectionIn:
		return In
	case model.DirectionOut:
		return Out
	}
	return InOut
}

func action(s string) Action {
	switch s {
	case model.ActionDrop:
		return ActionDrop
	case model.ActionReject:
		return ActionReject
	case model.ActionJumpToApplication:
		return ActionJump
	}
	return ActionAllow
}

func (c *compiler) rule(op orderedPolicy, r *model.Rule) Rule {
	cr := Rule{
		Path: r.Path, PolicyPath: op.path, Category: categoryOf(op), Action: action(r.EffectiveAction()),
		Logged: r.Logged, Direction: direction(r.EffectiveDirection()),
		Default: op.rank == defaultSectionRank && r.ID == model.DefaultLayer3RuleID,
	}
	switch r.EffectiveIPProtocol() {
	case model.IPProtocolV4:
		cr.v4 = true
	case model.IPProtocolV6:
		cr.v6 = true
	default:
		cr.v4, cr.v6 = true, true
	}
	cr.Src, cr.SourceGroups = c.endpoint(r.SourceGroups, r.SourcesExcluded)
	cr.Dst, cr.DestinationGroups = c.endpoint(r.DestinationGroups, r.DestinationsExcluded)
	cr.Match, cr.Services = c.services(r)
	return cr
}

func categoryOf(op orderedPolicy) string {
	if op.sp != nil {
		return op.sp.Category
	}
	return op.policy.Category
}

// policyDefault is the rule a connectivity preference adds at the end of
// a security policy: ALLOWLIST drops what the policy did not allow,
// DENYLIST allows what it did not drop, both only where the policy
// applies.
func policyDefault(op orderedPolicy) (Rule, bool) {
	r := Rule{Path: op.path + "/default-rule", PolicyPath: op.path, Category: op.sp.Category, PolicyDefault: true,
		Src: Endpoint{Any: true}, Dst: Endpoint{Any: true}, v4: true, v6: true}
	switch model.EffectiveConnectivity(op.sp) {
	case model.ConnectivityAllowList:
		r.Action = ActionDrop
	case model.ConnectivityAllowListLogging:
		r.Action, r.Logged = ActionDrop, true
	case model.ConnectivityDenyList:
		r.Action = ActionAllow
	case model.ConnectivityDenyListLogging:
		r.Action, r.Logged = ActionAllow, true
	default:
		return r, false
	}
	return r, true
}

func (c *compiler) group(path string) *groupSets {
	if g, ok := c.groups[path]; ok {
		return g
	}
	g := &groupSets{ipPorts: c.m.IPPorts(path)}
	if s := c.m.IPSet(path); s != nil {
		g.ranges = s.Ranges()
	}
	c.groups[path] = g
	return g
}

// CompileEndpoint compiles a source or destination list (group paths and
// literal addresses) on its own, as Compile compiles a rule's: what an
// endpoint holds depends on nothing else, so a membership change can
// recompute the endpoints that name a changed group without compiling a
// whole ruleset.
func CompileEndpoint(list []string, m Members) Endpoint {
	c := &compiler{m: m, groups: map[string]*groupSets{}}
	e, _ := c.endpoint(list, false)
	return e
}

// endpoint compiles a source or destination list.
func (c *compiler) endpoint(list []string, negate bool) (Endpoint, []string) {
	if model.IsAny(list) {
		return Endpoint{Any: true, Negate: negate}, nil
	}
	e := Endpoint{Negate: negate}
	var b netipx.IPSetBuilder
	var groups []string
	for _, s := range list {
		if strings.HasPrefix(s, "/") {
			groups = append(groups, s)
			g := c.group(s)
			for _, r := range g.ranges {
				b.AddRange(r)
			}
			for _, m := range g.ipPorts {
				if e.IPPorts == nil {
					e.IPPorts = map[address.IPPort]struct{}{}
				}
				e.IPPorts[m] = struct{}{}
			}
			continue
		}
		if r, err := address.ParseRange(s); err == nil {
			b.AddRange(r)
			e.Literals = append(e.Literals, s)
		}
	}
	e.Set, _ = b.IPSet()
	return e, groups
}

// services flattens a rule's services and inline entries. Nil means any
// service.
func (c *compiler) services(r *model.Rule) ([]ServiceMatch, []string) {
	if model.IsAny(r.Services) && len(r.ServiceEntries) == 0 {
		return nil, nil
	}
	var out []ServiceMatch
	var names []string
	if !model.IsAny(r.Services) {
		for _, p := range r.Services {
			names = append(names, p)
			out = c.service(p, out, map[string]bool{})
		}
	}
	for _, e := range r.ServiceEntries {
		out = c.entry(e, out, map[string]bool{})
	}
	if len(r.ServiceEntries) > 0 {
		names = append(names, "service_entries")
	}
	if out == nil {
		out = []ServiceMatch{} // services that match nothing
	}
	return out, names
}

func (c *compiler) service(path string, out []ServiceMatch, seen map[string]bool) []ServiceMatch {
	if seen[path] {
		return out
	}
	seen[path] = true
	s, ok := c.cfg.Service(path)
	if !ok {
		return out
	}
	for _, e := range s.ServiceEntries {
		out = c.entry(e, out, seen)
	}
	return out
}

func (c *compiler) entry(e model.ServiceEntry, out []ServiceMatch, seen map[string]bool) []ServiceMatch {
	switch x := e.(type) {
	case *model.L4PortSetServiceEntry:
		p, err := address.ParseProto(x.L4Protocol)
		if err != nil {
			return out
		}
		sp, err1 := address.ParsePortList(x.SourcePorts)
		dp, err2 := address.ParsePortList(x.DestinationPorts)
		if err1 != nil || err2 != nil {
			return out
		}
		return append(out, ServiceMatch{Proto: p, SrcPorts: sp, DstPorts: dp})
	case *model.ICMPTypeServiceEntry:
		m := ServiceMatch{Proto: address.ICMP}
		if x.Protocol == "ICMPv6" {
			m.Proto = address.ICMPv6
		}
		if x.ICMPType != nil {
			t := uint16(*x.ICMPType)
			m.DstPorts = []address.PortRange{{From: t, To: t}}
		}
		if x.ICMPCode != nil {
			cd := uint16(*x.ICMPCode)
			m.SrcPorts = []address.PortRange{{From: cd, To: cd}}
		}
		return append(out, m)
	case *model.IPProtocolServiceEntry:
		if x.ProtocolNumber == nil {
			return out
		}
		return append(out, ServiceMatch{Proto: address.Proto(*x.ProtocolNumber)})
	case *model.IGMPTypeServiceEntry:
		return append(out, ServiceMatch{Proto: address.IGMP})
	case *model.NestedServiceServiceEntry:
		return c.service(x.NestedServicePath, out, seen)
	}
	return out
}
