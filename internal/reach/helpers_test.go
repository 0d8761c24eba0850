package reach

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

// A rule's address families and a ruleset's Application start are
// unexported, and only policy.Compile sets them. The tests compile a tiny
// configuration (one Environment policy with n rules) and copy what they
// need: a compiled rule of each family, whose exported fields they then
// overwrite, and a ruleset with the wanted AppStart, whose rules they
// replace. Copying a struct copies its unexported fields.

type noMembers struct{}

func (noMembers) IPSet(string) *netipx.IPSet      { return nil }
func (noMembers) IPPorts(string) []address.IPPort { return nil }

var compiled struct {
	sync.Mutex
	byAppStart map[int]*policy.Ruleset
}

// environment compiles an Environment policy whose rules have the given
// ip_protocol values: its ruleset's AppStart is len(protocols).
func environment(t testing.TB, protocols []string) *policy.Ruleset {
	t.Helper()
	sp := &model.SecurityPolicy{}
	sp.ID, sp.Category = "env", model.CategoryEnvironment
	for k, p := range protocols {
		r := &model.Rule{IPProtocol: p, SequenceNumber: int64(k + 1)}
		r.ID = fmt.Sprintf("r%d", k)
		sp.Rules = append(sp.Rules, r)
	}
	domain := &model.Domain{}
	domain.ID = model.DefaultDomain
	domain.Children = append(domain.Children, model.Wrap(sp))
	var infra model.Infra
	infra.Children = append(infra.Children, model.Wrap(domain))
	cfg, _, err := model.NewConfig().Apply("", &infra)
	if err != nil {
		t.Fatal(err)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	rs := policy.Compile(cfg, noMembers{}, policy.Point{})
	if len(rs.Rules) != len(protocols) || rs.AppStart() != len(protocols) {
		t.Fatalf("template: %d rules, AppStart %d, want %d and %d", len(rs.Rules), rs.AppStart(), len(protocols), len(protocols))
	}
	return rs
}

// ruleset returns a ruleset of the given rules whose JUMP_TO_APPLICATION
// continues at appStart.
func ruleset(t testing.TB, appStart int, rules []policy.Rule) *policy.Ruleset {
	t.Helper()
	compiled.Lock()
	defer compiled.Unlock()
	if compiled.byAppStart == nil {
		compiled.byAppStart = map[int]*policy.Ruleset{}
	}
	tmpl, ok := compiled.byAppStart[appStart]
	if !ok {
		tmpl = environment(t, make([]string, appStart))
		compiled.byAppStart[appStart] = tmpl
	}
	rs := *tmpl
	rs.Rules = rules
	return &rs
}

type fam int

const (
	famBoth fam = iota
	fam4
	fam6
)

var (
	templatesOnce sync.Once
	templates     [3]policy.Rule
)

// blank returns an ALLOW rule of the family matching every flow.
func blank(t testing.TB, f fam) policy.Rule {
	t.Helper()
	templatesOnce.Do(func() {
		rs := environment(t, []string{model.IPProtocolBoth, model.IPProtocolV4, model.IPProtocolV6})
		copy(templates[:], rs.Rules)
	})
	r := templates[f]
	if r.IPv4() != (f != fam6) || r.IPv6() != (f != fam4) {
		t.Fatalf("template %d has IPv4 %v, IPv6 %v", f, r.IPv4(), r.IPv6())
	}
	r.Path, r.PolicyPath, r.Category = "", "", ""
	r.Action, r.Logged, r.Direction = policy.ActionAllow, false, policy.InOut
	r.PolicyDefault, r.Default = false, false
	r.SourceGroups, r.DestinationGroups, r.Services = nil, nil, nil
	r.Src, r.Dst = policy.Endpoint{Any: true}, policy.Endpoint{Any: true}
	r.Match, r.AppliedTo = nil, nil
	return r
}

func ipSet(ranges ...string) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, s := range ranges {
		r, err := address.ParseRange(s)
		if err != nil {
			panic(err)
		}
		b.AddRange(r)
	}
	s, _ := b.IPSet()
	return s
}

// ep is an endpoint of address ranges; members with a port are added by
// withPort.
func ep(ranges ...string) policy.Endpoint { return policy.Endpoint{Set: ipSet(ranges...)} }

func not(e policy.Endpoint) policy.Endpoint { e.Negate = true; return e }

func withPort(e policy.Endpoint, addr string, p address.Proto, port uint16) policy.Endpoint {
	m := map[address.IPPort]struct{}{}
	for k := range e.IPPorts {
		m[k] = struct{}{}
	}
	m[address.IPPort{Addr: netip.MustParseAddr(addr), Proto: p, Port: port}] = struct{}{}
	e.IPPorts = m
	return e
}

func ports(list ...string) []address.PortRange {
	out, err := address.ParsePortList(list)
	if err != nil {
		panic(err)
	}
	return out
}

func tcp(dst ...string) policy.ServiceMatch {
	return policy.ServiceMatch{Proto: address.TCP, DstPorts: ports(dst...)}
}

func udp(dst ...string) policy.ServiceMatch {
	return policy.ServiceMatch{Proto: address.UDP, DstPorts: ports(dst...)}
}

func icmpType(t uint16) policy.ServiceMatch {
	return policy.ServiceMatch{Proto: address.ICMP, DstPorts: []address.PortRange{{From: t, To: t}}}
}

type ruleOpt func(*policy.Rule)

func src(e policy.Endpoint) ruleOpt { return func(r *policy.Rule) { r.Src = e } }
func dst(e policy.Endpoint) ruleOpt { return func(r *policy.Rule) { r.Dst = e } }

func svc(ms ...policy.ServiceMatch) ruleOpt {
	return func(r *policy.Rule) { r.Match = append([]policy.ServiceMatch{}, ms...) }
}

func applied(d policy.Direction, ranges ...string) ruleOpt {
	return func(r *policy.Rule) { r.AppliedTo, r.Direction = ipSet(ranges...), d }
}

func logged(r *policy.Rule)        { r.Logged = true }
func policyDefault(r *policy.Rule) { r.PolicyDefault = true }

// mk builds the rules of a test; each spec is a path, an action, a family
// and options.
type spec struct {
	path string
	act  policy.Action
	fam  fam
	opts []ruleOpt
}

func r(path string, act policy.Action, opts ...ruleOpt) spec {
	return spec{path: path, act: act, opts: opts}
}

func r4(path string, act policy.Action, opts ...ruleOpt) spec {
	return spec{path: path, act: act, fam: fam4, opts: opts}
}

func r6(path string, act policy.Action, opts ...ruleOpt) spec {
	return spec{path: path, act: act, fam: fam6, opts: opts}
}

func mk(t testing.TB, specs []spec) []policy.Rule {
	var out []policy.Rule
	for _, s := range specs {
		rule := blank(t, s.fam)
		rule.Path, rule.Action = s.path, s.act
		for _, o := range s.opts {
			o(&rule)
		}
		out = append(out, rule)
	}
	return out
}

const (
	allow  = policy.ActionAllow
	drop   = policy.ActionDrop
	reject = policy.ActionReject
	jump   = policy.ActionJump
)
