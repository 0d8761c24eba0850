package realization

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/policy"
)

// Roles of an enforcement point.
const (
	RoleVM      = "vm"
	RoleGateway = "gateway"
)

// Hook names: where a list of rules is evaluated.
const (
	HookForward = "forward" // a gateway's forwarded traffic
	HookIn      = "in"      // traffic entering a VM
	HookOut     = "out"     // traffic leaving a VM
)

// Span is the desired state of one enforcement point.
type Span struct {
	// Point names the enforcement point: a gateway path, or "vm:NAME".
	Point string `json:"point"`
	Role  string `json:"role"`
	// Revision is the manager revision the span was computed at.
	Revision int64 `json:"revision"`
	// Digest identifies the content (sets and hooks, not the revision).
	Digest string `json:"digest"`
	// Sets are sorted by name; every endpoint a rule names is one set.
	Sets  []Set  `json:"sets"`
	Hooks []Hook `json:"hooks"`

	// structHash caches structure(): a span is not modified once built
	// (Apply and WithSets make new ones), so it is computed once.
	structHash string
}

// Set holds the addresses of one rule endpoint: the union of the groups
// and literal addresses it names. Ranges hold whole addresses, IPPorts
// the members that match only with a protocol and port (NodePort and
// NodePortLocal), except those whose address Ranges already holds. Its name is derived from what it names,
// so it survives membership changes and is shared by rules that name the
// same endpoint.
type Set struct {
	Name    string           `json:"name"`
	Names   []string         `json:"names"`
	Ranges  []netipx.IPRange `json:"ranges,omitempty"`
	IPPorts []address.IPPort `json:"ip_ports,omitempty"`

	// hash caches the content's hash; a set whose elements change is a
	// new value, with none.
	hash string
}

// Hook is the ordered rules of one hook. Rules before AppStart are the
// categories a JUMP_TO_APPLICATION leaves; evaluation continues at
// AppStart.
type Hook struct {
	Name     string `json:"name"`
	AppStart int    `json:"app_start"`
	Rules    []Rule `json:"rules"`
}

// Rule is one compiled rule as the agent needs it.
type Rule struct {
	Path     string        `json:"path"`
	Policy   string        `json:"policy"`
	Category string        `json:"category,omitempty"`
	Action   policy.Action `json:"action"`
	Logged   bool          `json:"logged,omitempty"`
	V4       bool          `json:"ipv4"`
	V6       bool          `json:"ipv6"`
	Src      Endpoint      `json:"source"`
	Dst      Endpoint      `json:"destination"`
	// Services is nil for any service; otherwise the flow must match one
	// entry (an empty list matches nothing).
	Services []Service `json:"services"`
}

// Endpoint is a source or destination: any address, or the addresses of
// a set, possibly negated (excluded).
type Endpoint struct {
	Any    bool   `json:"any,omitempty"`
	Negate bool   `json:"negate,omitempty"`
	Set    string `json:"set,omitempty"`
}

// Service is one flattened service entry. For ICMP, DstPorts holds the
// type and SrcPorts the code.
type Service struct {
	AnyProto bool                `json:"any_protocol,omitempty"`
	Proto    address.Proto       `json:"protocol"`
	SrcPorts []address.PortRange `json:"source_ports,omitempty"`
	DstPorts []address.PortRange `json:"destination_ports,omitempty"`
}

// Build makes the span of an enforcement point from its compiled
// rulesets, one per hook, in the order given.
func Build(point, role string, revision int64, hooks []string, rulesets []*policy.Ruleset) *Span {
	s := &Span{Point: point, Role: role, Revision: revision}
	sets := map[string]*Set{}
	for i, h := range hooks {
		rs := rulesets[i]
		hk := Hook{Name: h, AppStart: rs.AppStart(), Rules: make([]Rule, 0, len(rs.Rules))}
		for j := range rs.Rules {
			r := &rs.Rules[j]
			hk.Rules = append(hk.Rules, Rule{
				Path: r.Path, Policy: r.PolicyPath, Category: r.Category, Action: r.Action, Logged: r.Logged,
				V4: r.IPv4(), V6: r.IPv6(),
				Src: endpoint(sets, &r.Src, r.SourceGroups), Dst: endpoint(sets, &r.Dst, r.DestinationGroups),
				Services: services(r.Match),
			})
		}
		s.Hooks = append(s.Hooks, hk)
	}
	for _, st := range sets {
		s.Sets = append(s.Sets, *st)
	}
	slices.SortFunc(s.Sets, func(a, b Set) int { return strings.Compare(a.Name, b.Name) })
	s.Digest = s.digest()
	return s
}

func endpoint(sets map[string]*Set, e *policy.Endpoint, groups []string) Endpoint {
	if e.Any {
		return Endpoint{Any: true, Negate: e.Negate}
	}
	names := append(slices.Clone(groups), e.Literals...)
	slices.Sort(names)
	names = slices.Compact(names)
	name := SetName(names)
	if _, ok := sets[name]; !ok {
		st := setOf(names, e)
		sets[name] = &st
	}
	return Endpoint{Negate: e.Negate, Set: name}
}

// setOf makes the set of an endpoint that names names.
func setOf(names []string, e *policy.Endpoint) Set {
	st := Set{Name: SetName(names), Names: names}
	if e.Set != nil {
		st.Ranges = e.Set.Ranges()
	}
	for m := range e.IPPorts {
		// A member whose address the set holds anyway adds nothing;
		// leaving it out keeps the set's elements disjoint, which an
		// nftables interval set requires.
		if e.Set == nil || !e.Set.Contains(m.Addr) {
			st.IPPorts = append(st.IPPorts, m)
		}
	}
	slices.SortFunc(st.IPPorts, compareIPPort)
	return st
}

// SetFor computes the set named by names (sorted group paths and
// literals, as a span's Set.Names holds them) from the current members:
// what Build would put in it, without compiling any rule.
func SetFor(names []string, m policy.Members) Set {
	e := policy.CompileEndpoint(names, m)
	return setOf(names, &e)
}

// SetName names the set of an endpoint from the sorted group paths and
// literals it names: short, stable, and valid as an nftables identifier.
func SetName(names []string) string {
	h := sha256.Sum256([]byte(strings.Join(names, "\n")))
	return "e" + hex.EncodeToString(h[:6])
}

func services(ms []policy.ServiceMatch) []Service {
	if ms == nil {
		return nil
	}
	out := make([]Service, 0, len(ms))
	for _, m := range ms {
		out = append(out, Service{AnyProto: m.AnyProto, Proto: m.Proto, SrcPorts: m.SrcPorts, DstPorts: m.DstPorts})
	}
	return out
}

// digest hashes what the span holds, without its revision, so that a
// recomputation that changes nothing is recognised. It is the hash of the
// structure and of each set's content, each hashed once: a span that only
// some sets' elements change in is hashed again at the cost of those sets.
func (s *Span) digest() string {
	h := sha256.New()
	h.Write([]byte(s.structure()))
	for i := range s.Sets {
		h.Write([]byte(s.Sets[i].contentHash()))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// contentHash hashes a set's names and elements.
func (st *Set) contentHash() string {
	if st.hash == "" {
		// omitempty: a set emptied by a delta (an empty slice) and one
		// built empty (nil) hold the same.
		st.hash = hashJSON(struct {
			Name    string
			Names   []string         `json:",omitempty"`
			Ranges  []netipx.IPRange `json:",omitempty"`
			IPPorts []address.IPPort `json:",omitempty"`
		}{st.Name, st.Names, st.Ranges, st.IPPorts})
	}
	return st.hash
}

// structure hashes the span without set contents: two spans with the same
// structure differ only in set elements.
func (s *Span) structure() string {
	if s.structHash == "" {
		names := make([]string, len(s.Sets))
		for i := range s.Sets {
			names[i] = s.Sets[i].Name
		}
		s.structHash = hashJSON(struct {
			Point, Role string
			Sets        []string
			Hooks       []Hook
		}{s.Point, s.Role, names, s.Hooks})
	}
	return s.structHash
}

func hashJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("realization: encoding a span: %v", err))
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// Set returns the named set.
func (s *Span) Set(name string) *Set {
	i, ok := slices.BinarySearchFunc(s.Sets, name, func(a Set, n string) int { return strings.Compare(a.Name, n) })
	if !ok {
		return nil
	}
	return &s.Sets[i]
}

// Count returns the number of rules and of set elements (ranges and
// address+port members).
func (s *Span) Count() (rules, elements int) {
	for _, h := range s.Hooks {
		rules += len(h.Rules)
	}
	for _, st := range s.Sets {
		elements += len(st.Ranges) + len(st.IPPorts)
	}
	return rules, elements
}

// Rehash recomputes the digest of a span whose contents were set by hand
// (tests and benchmarks build spans without Build).
func (s *Span) Rehash() {
	s.structHash = ""
	for i := range s.Sets {
		s.Sets[i].hash = ""
	}
	s.Digest = s.digest()
}
