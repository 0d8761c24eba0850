package membership

import (
	"slices"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
)

// contribution computes what an entity adds to a group as member type mt,
// following the seed's summary table.
func (x *Index) contribution(e *entity, mt memberType) contribution {
	var k contribution
	switch o := e.obj.(type) {
	case *inventory.Node:
		if mt == mtNodeIP {
			for _, a := range o.InternalIPs {
				k.ranges = append(k.ranges, address.Single(a))
			}
		} else {
			for _, p := range o.PodCIDRs {
				k.ranges = append(k.ranges, netipx.RangeOfPrefix(p))
			}
		}
	case *inventory.Egress:
		for _, a := range o.EffectiveIPs() {
			k.ranges = append(k.ranges, address.Single(a))
		}
	case *inventory.IPPool:
		for _, r := range o.Ranges {
			k.ranges = append(k.ranges, r.Range())
		}
	case *inventory.Ingress:
		k.ranges = lbRanges(o.LoadBalancer)
	case *inventory.Gateway:
		for _, a := range o.Addresses {
			k.ranges = append(k.ranges, address.Single(a))
		}
	case *inventory.Service:
		x.serviceContribution(e, o, &k)
	case *inventory.VirtualMachine:
		for _, a := range o.Addresses {
			k.ranges = append(k.ranges, address.Single(a))
		}
	}
	slices.SortFunc(k.ranges, func(a, b netipx.IPRange) int {
		if rangeLess(a, b) {
			return -1
		}
		if rangeLess(b, a) {
			return 1
		}
		return 0
	})
	k.ranges = slices.Compact(k.ranges)
	return k
}

func lbRanges(in []inventory.LoadBalancerIngress) []netipx.IPRange {
	var out []netipx.IPRange
	for _, li := range in {
		if li.IP.IsValid() {
			out = append(out, address.Single(li.IP))
		}
	}
	return out
}

// serviceContribution: a LoadBalancer Service resolves to its ingress IPs,
// a NodePort Service to its node ports on every node of its cluster, and
// a Service that opts into NodePortLocal to the node IP and port Antrea
// maps for each pod it selects. A plain ClusterIP Service resolves to
// nothing: it is not reachable from outside the cluster.
func (x *Index) serviceContribution(e *entity, s *inventory.Service, k *contribution) {
	switch s.Type {
	case inventory.ServiceLoadBalancer:
		k.ranges = lbRanges(s.LoadBalancer)
	case inventory.ServiceNodePort:
		for _, p := range s.Ports {
			if p.NodePort > 0 {
				k.ports = append(k.ports, address.ProtoPort{Proto: p.Protocol, Port: uint16(p.NodePort), Family: address.FamilyOf(s.ClusterIPs)})
			}
		}
		slices.SortFunc(k.ports, func(a, b address.ProtoPort) int {
			if a.Proto != b.Proto {
				return int(a.Proto) - int(b.Proto)
			}
			if a.Port != b.Port {
				return int(a.Port) - int(b.Port)
			}
			return int(a.Family) - int(b.Family)
		})
		k.ports = slices.Compact(k.ports)
	}
	if e.ns == nil {
		return
	}
	for _, p := range e.ns.pods {
		k.ipPorts = append(k.ipPorts, nplMappings(s, p)...)
	}
	slices.SortFunc(k.ipPorts, compareIPPort)
}

// nplMappings returns the NodePortLocal members a pod gives a Service:
// none unless the Service opts in, is ClusterIP or LoadBalancer, and
// selects the pod. Duplicates are kept: a Service's members form a
// multiset that pod changes update one mapping at a time.
func nplMappings(s *inventory.Service, p *inventory.Pod) []address.IPPort {
	if p == nil || !s.NodePortLocal || (s.Type != inventory.ServiceClusterIP && s.Type != inventory.ServiceLoadBalancer) || !selects(s.Selector, p.Labels) {
		return nil
	}
	var out []address.IPPort
	for _, m := range p.NodePortLocal {
		if servesPort(s, p, m) {
			out = append(out, address.IPPort{Addr: m.NodeIP, Proto: m.Protocol, Port: uint16(m.NodePort)})
		}
	}
	slices.SortFunc(out, compareIPPort)
	return out
}

func compareIPPort(a, b address.IPPort) int {
	if a.Less(b) {
		return -1
	}
	if b.Less(a) {
		return 1
	}
	return 0
}

// insertSorted adds m to a sorted multiset.
func insertSorted(l []address.IPPort, m address.IPPort) []address.IPPort {
	i, _ := slices.BinarySearchFunc(l, m, compareIPPort)
	return slices.Insert(l, i, m)
}

// removeOne removes one occurrence of m from a sorted multiset.
func removeOne(l []address.IPPort, m address.IPPort) []address.IPPort {
	if i, ok := slices.BinarySearchFunc(l, m, compareIPPort); ok {
		return slices.Delete(l, i, i+1)
	}
	return l
}

// servesPort reports whether a pod's NodePortLocal mapping belongs to the
// Service: its pod port is one of the pod ports Antrea maps for the
// Service's ports (a numeric target port, or every port of the pod's
// containers that a named target port names, with its protocol).
func servesPort(s *inventory.Service, p *inventory.Pod, m inventory.NPLMapping) bool {
	for _, sp := range s.Ports {
		if sp.Protocol == m.Protocol && slices.Contains(p.NPLPodPorts(sp), m.PodPort) {
			return true
		}
	}
	return false
}
