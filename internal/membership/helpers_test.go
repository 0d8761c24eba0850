package membership

import (
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

// Test address plan: clusters "east" and "west"; node InternalIPs in
// 10.0.<cluster>.0/24, pod CIDRs in 10.244.0.0/16, load-balancer VIPs in
// 192.168.0.0/16, egress IPs in 10.9.0.0/24, IP pools in 10.20.0.0/16.

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func ips(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = ip(s)
	}
	return out
}

func meta(cluster, ns, name string, labels ...string) inventory.Meta {
	m := inventory.Meta{Cluster: cluster, Namespace: ns, Name: name}
	if len(labels) > 0 {
		m.Labels = map[string]string{}
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			m.Labels[k] = v
		}
	}
	return m
}

func node(cluster, name string, internal ...string) *inventory.Node {
	n := &inventory.Node{Meta: meta(cluster, "", name), InternalIPs: ips(internal...)}
	return n
}

func lbService(cluster, ns, name string, vip string, labels ...string) *inventory.Service {
	s := &inventory.Service{Meta: meta(cluster, ns, name, labels...), Type: inventory.ServiceLoadBalancer,
		Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 443, TargetPort: 8443, NodePort: 31443}}}
	if vip != "" {
		s.LoadBalancer = []inventory.LoadBalancerIngress{{IP: ip(vip)}}
	}
	return s
}

func nodePortService(cluster, ns, name string, ports ...int32) *inventory.Service {
	s := &inventory.Service{Meta: meta(cluster, ns, name), Type: inventory.ServiceNodePort}
	for _, p := range ports {
		s.Ports = append(s.Ports, inventory.ServicePort{Protocol: address.TCP, Port: 80, TargetPort: 8080, NodePort: p})
	}
	return s
}

func nplService(cluster, ns, name string, selector string, targetPort int32) *inventory.Service {
	k, v, _ := strings.Cut(selector, "=")
	return &inventory.Service{Meta: meta(cluster, ns, name), Type: inventory.ServiceClusterIP, NodePortLocal: true,
		Selector: map[string]string{k: v}, Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 80, TargetPort: targetPort}}}
}

func pod(cluster, ns, name, label string, npl ...inventory.NPLMapping) *inventory.Pod {
	return &inventory.Pod{Meta: meta(cluster, ns, name, label), NodePortLocal: npl}
}

func npl(nodeIP string, podPort, nodePort int32) inventory.NPLMapping {
	return inventory.NPLMapping{PodPort: podPort, NodeIP: ip(nodeIP), NodePort: nodePort, Protocol: address.TCP}
}

// condition builds a Condition; value for tags is "scope|tag".
func condition(memberType, key, op, value string) *model.Condition {
	return &model.Condition{MemberType: memberType, Key: key, Operator: op, Value: value}
}

func and() model.Expression { return &model.ConjunctionOperator{ConjunctionOperator: model.ConjAnd} }
func or() model.Expression  { return &model.ConjunctionOperator{ConjunctionOperator: model.ConjOr} }

// nested builds a criterion of several conditions joined by AND.
func nested(conds ...*model.Condition) *model.NestedExpression {
	n := &model.NestedExpression{}
	for i, c := range conds {
		if i > 0 {
			n.Expressions = append(n.Expressions, and())
		}
		n.Expressions = append(n.Expressions, c)
	}
	return n
}

func newGroupDef(exprs ...model.Expression) *model.Group {
	return &model.Group{Expression: exprs}
}

func setGroup(t testing.TB, x *Index, path string, g *model.Group) {
	t.Helper()
	if err := x.SetGroup(path, g); err != nil {
		t.Fatalf("SetGroup(%s): %v", path, err)
	}
}

func addrs(x *Index, path string) []string {
	var out []string
	for _, r := range x.Addresses(path) {
		out = append(out, address.FormatRange(r))
	}
	return out
}

func ipPorts(x *Index, path string) []string {
	var out []string
	for _, m := range x.IPPorts(path) {
		out = append(out, m.String())
	}
	return out
}

func memberNames(x *Index, path string) []string {
	var out []string
	for _, m := range x.Members(path) {
		out = append(out, m.Key.String())
	}
	return out
}

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }

// snapshot is everything observable about one group.
type snapshot struct {
	members map[Member]bool
	ranges  map[netipx.IPRange]bool
	ipPorts map[address.IPPort]bool
}

func take(x *Index, path string) snapshot {
	s := snapshot{members: map[Member]bool{}, ranges: map[netipx.IPRange]bool{}, ipPorts: map[address.IPPort]bool{}}
	if g := x.groups[path]; g != nil {
		for m := range g.members {
			s.members[toMember(m)] = true
		}
	}
	for _, r := range x.Ranges(path) {
		s.ranges[r] = true
	}
	for _, m := range x.IPPorts(path) {
		s.ipPorts[m] = true
	}
	return s
}

func sortedKeys[K comparable](m map[K]bool, str func(K) string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, str(k))
	}
	sort.Strings(out)
	return out
}
