package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
)

// How traffic from outside reaches a cluster object.
const (
	ViaLoadBalancer  = "LoadBalancerVIP"
	ViaIngressVIP    = "IngressVIP"
	ViaGatewayVIP    = "GatewayVIP"
	ViaNodePort      = "NodePort"
	ViaNodePortLocal = "NodePortLocal"
	ViaRoutablePod   = "RoutablePodIP"
)

// Entry is one address and port by which a cluster object is reachable
// from outside the cluster.
type Entry struct {
	Via      string        `json:"via"`
	Address  netip.Addr    `json:"address"`
	Protocol address.Proto `json:"protocol"`
	Port     uint16        `json:"port"`
	// Object is what provides the entry: the Service, Ingress or Gateway
	// itself, or the node or pod behind it.
	Object string `json:"object"`
	Reason string `json:"reason"`
}

// Target is the object an inbound trace is about.
type Target struct {
	Kind inventory.Kind
	Key  inventory.Key
}

// ParseTarget reads CLUSTER/NAMESPACE/NAME of a Service, Ingress or
// Gateway.
func ParseTarget(kind inventory.Kind, s string) (inventory.Key, error) {
	return parseRef(s, kind)
}

// Entries lists every address and port by which the object is reachable
// from outside its cluster. When there is none, the second result says
// why. An object missing from the inventory is an error.
func Entries(inv Inventory, key inventory.Key) ([]Entry, string, error) {
	o, ok := inv.Object(key)
	if !ok {
		return nil, "", fmt.Errorf("%s %s/%s/%s is not in the inventory", strings.ToLower(string(key.Kind)), key.Cluster, key.Namespace, key.Name)
	}
	var out []Entry
	var why []string
	ref := key.Cluster + "/" + string(key.Kind) + "/" + key.Namespace + "/" + key.Name
	switch x := o.(type) {
	case *inventory.Service:
		out, why = serviceEntries(inv, x, ref)
	case *inventory.Ingress:
		out, why = ingressEntries(x, ref)
	case *inventory.Gateway:
		out, why = gatewayEntries(x, ref)
	default:
		return nil, "", fmt.Errorf("%s is a %s: trace inbound to a Service, Ingress or Gateway", ref, key.Kind)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Via != b.Via {
			return viaRank(a.Via) < viaRank(b.Via)
		}
		if c := a.Address.Compare(b.Address); c != 0 {
			return c < 0
		}
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		return a.Port < b.Port
	})
	return out, strings.Join(why, "; "), nil
}

func viaRank(v string) int {
	for i, x := range []string{ViaLoadBalancer, ViaIngressVIP, ViaGatewayVIP, ViaNodePort, ViaNodePortLocal, ViaRoutablePod} {
		if x == v {
			return i
		}
	}
	return 99
}

func serviceEntries(inv Inventory, s *inventory.Service, ref string) ([]Entry, []string) {
	var out []Entry
	var why []string
	switch s.Type {
	case inventory.ServiceExternalName:
		return nil, []string{"an ExternalName Service is a DNS alias for something outside the cluster; nothing in the cluster is reachable through it"}
	case inventory.ServiceLoadBalancer:
		n := 0
		for _, ing := range s.LoadBalancer {
			if !ing.IP.IsValid() {
				continue
			}
			for _, p := range s.Ports {
				n++
				out = append(out, Entry{Via: ViaLoadBalancer, Address: ing.IP.Unmap(), Protocol: p.Protocol, Port: uint16(p.Port), Object: ref,
					Reason: fmt.Sprintf("load-balancer ingress IP of the Service, port %s", portName(p))})
			}
		}
		if n == 0 {
			why = append(why, "the LoadBalancer Service has no load-balancer IP yet (status.loadBalancer.ingress is empty or holds only hostnames)")
		}
	}
	if s.Type == inventory.ServiceNodePort || s.Type == inventory.ServiceLoadBalancer {
		nodes := inv.Objects(s.Cluster, inventory.KindNode)
		for _, p := range s.Ports {
			if p.NodePort == 0 {
				continue
			}
			pp := address.ProtoPort{Proto: p.Protocol, Port: uint16(p.NodePort), Family: address.FamilyOf(s.ClusterIPs)}
			for _, no := range nodes {
				n := no.(*inventory.Node)
				for _, a := range n.InternalIPs {
					if !pp.On(a) {
						continue // a single-stack Service's node port exists on its family only
					}
					out = append(out, Entry{Via: ViaNodePort, Address: a.Unmap(), Protocol: p.Protocol, Port: uint16(p.NodePort), Object: nodeRef(s.Cluster, n.Name),
						Reason: fmt.Sprintf("every node opens NodePort %d for port %s; node %s forwards it to a backend (with SNAT, unless the Service's externalTrafficPolicy is Local: then only nodes with a local backend answer, and keep the client's address)", p.NodePort, portName(p), n.Name)})
				}
			}
		}
		if len(nodes) == 0 && s.Type == inventory.ServiceNodePort {
			why = append(why, "the cluster has no node in the inventory, so no node IP carries the NodePort")
		}
	}
	backends := selectedPods(inv, s)
	if s.NodePortLocal {
		n := 0
		for _, pod := range backends {
			for _, m := range pod.NodePortLocal {
				p, ok := servicePortFor(s, pod, m)
				if !ok {
					continue
				}
				n++
				why := fmt.Sprintf("Antrea maps node port %d on %s to port %d of backend pod %s (Service port %s), without SNAT", m.NodePort, m.NodeIP, m.PodPort, pod.Name, portName(p))
				if p.TargetPortName != "" {
					why += fmt.Sprintf("; the target port %q is the pod's container port %d", p.TargetPortName, m.PodPort)
				}
				out = append(out, Entry{Via: ViaNodePortLocal, Address: m.NodeIP.Unmap(), Protocol: m.Protocol, Port: uint16(m.NodePort),
					Object: s.Cluster + "/Pod/" + pod.Namespace + "/" + pod.Name, Reason: why})
			}
		}
		if n == 0 {
			why = append(why, "NodePortLocal is enabled but no backend pod carries a mapping of the Service's target ports yet (the nodeportlocal.antrea.io annotation)")
		}
		if unresolved := unresolvedNames(s, backends); len(unresolved) > 0 {
			why = append(why, "NodePortLocal maps no port for a named target port that a backend pod's containers do not declare: "+strings.Join(unresolved, "; "))
		}
	}
	for _, pod := range backends {
		for _, a := range pod.IPs {
			pool, ok := routablePool(inv, s.Cluster, a)
			if !ok {
				continue
			}
			for _, p := range s.Ports {
				tp, ok := pod.TargetPort(p)
				if !ok {
					continue // a named port the pod does not declare: not an endpoint of it
				}
				reason := fmt.Sprintf("backend pod %s has a routable address from IPPool %s and listens on target port %d", pod.Name, pool, tp)
				if p.TargetPortName != "" {
					reason += fmt.Sprintf(" (the container port named %q)", p.TargetPortName)
				}
				out = append(out, Entry{Via: ViaRoutablePod, Address: a.Unmap(), Protocol: p.Protocol, Port: uint16(tp), Object: s.Cluster + "/Pod/" + pod.Namespace + "/" + pod.Name,
					Reason: reason})
			}
		}
	}
	if len(out) == 0 && s.Type == inventory.ServiceClusterIP && !s.NodePortLocal {
		if s.NodePortLocalIgnored != "" {
			why = append(why, fmt.Sprintf("the Service's nodeportlocal.antrea.io/enabled annotation is %s: Antrea enables NodePortLocal only for the exact value \"true\"", s.NodePortLocalIgnored))
		}
		why = append(why, "a ClusterIP Service is reachable only inside its cluster: annotate it with nodeportlocal.antrea.io/enabled: \"true\" (NodePortLocal), or make it a NodePort or LoadBalancer Service, to reach it from VMs")
	}
	return out, why
}

// unresolvedNames lists, per named target port, the backend pods whose
// containers declare no port of that name and protocol (Antrea's
// NodePortLocal reads spec.containers only).
func unresolvedNames(s *inventory.Service, backends []*inventory.Pod) []string {
	var out []string
	for _, p := range s.Ports {
		if p.TargetPortName == "" {
			continue
		}
		var pods []string
		for _, pod := range backends {
			if len(pod.NPLPodPorts(p)) == 0 {
				pods = append(pods, pod.Name)
			}
		}
		if len(pods) > 0 {
			out = append(out, fmt.Sprintf("%q (%s) on %s", p.TargetPortName, p.Protocol, strings.Join(pods, ", ")))
		}
	}
	return out
}

func portName(p inventory.ServicePort) string {
	s := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
	if p.Name != "" {
		s = p.Name + " " + s
	}
	return s
}

// servicePortFor finds the Service port a pod's NodePortLocal mapping
// serves: one of the protocol whose target port, numeric or named and
// resolved through the pod's containers as Antrea does, is the mapping's
// pod port. ok is false for a mapping of another Service's port.
func servicePortFor(s *inventory.Service, pod *inventory.Pod, m inventory.NPLMapping) (inventory.ServicePort, bool) {
	for _, p := range s.Ports {
		if p.Protocol == m.Protocol && slices.Contains(pod.NPLPodPorts(p), m.PodPort) {
			return p, true
		}
	}
	return inventory.ServicePort{}, false
}

// selectedPods are the Service's backends: the pods of its namespace its
// selector matches (a Service without a selector has none kordon knows).
func selectedPods(inv Inventory, s *inventory.Service) []*inventory.Pod {
	if len(s.Selector) == 0 {
		return nil
	}
	var out []*inventory.Pod
	for _, o := range inv.Objects(s.Cluster, inventory.KindPod) {
		p := o.(*inventory.Pod)
		if p.Namespace != s.Namespace || p.HostNetwork {
			continue
		}
		ok := true
		for k, v := range s.Selector {
			if p.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func ingressEntries(in *inventory.Ingress, ref string) ([]Entry, []string) {
	var out []Entry
	for _, lb := range in.LoadBalancer {
		if !lb.IP.IsValid() {
			continue
		}
		ports := lb.Ports
		if len(ports) == 0 {
			ports = []inventory.PortStatus{{Port: 80, Protocol: address.TCP}}
			if in.TLS {
				ports = append(ports, inventory.PortStatus{Port: 443, Protocol: address.TCP})
			}
		}
		for _, p := range ports {
			out = append(out, Entry{Via: ViaIngressVIP, Address: lb.IP.Unmap(), Protocol: p.Protocol, Port: uint16(p.Port), Object: ref,
				Reason: fmt.Sprintf("VIP of the Ingress; its controller listens on %d/%s", p.Port, p.Protocol)})
		}
	}
	if len(out) == 0 {
		return nil, []string{"the Ingress has no VIP yet (status.loadBalancer.ingress has no IP)"}
	}
	return out, nil
}

func gatewayEntries(g *inventory.Gateway, ref string) ([]Entry, []string) {
	var out []Entry
	for _, a := range g.Addresses {
		for _, l := range g.Listeners {
			proto := address.TCP
			if strings.EqualFold(l.Protocol, "UDP") {
				proto = address.UDP
			}
			out = append(out, Entry{Via: ViaGatewayVIP, Address: a.Unmap(), Protocol: proto, Port: uint16(l.Port), Object: ref,
				Reason: fmt.Sprintf("address of the Gateway, listener %s (%s %d)", l.Name, l.Protocol, l.Port)})
		}
	}
	switch {
	case len(g.Addresses) == 0:
		return nil, []string{"the Gateway has no IP address yet (status.addresses holds no IPAddress)"}
	case len(g.Listeners) == 0:
		return nil, []string{"the Gateway has no listener, so no port is open on its addresses"}
	}
	return out, nil
}
