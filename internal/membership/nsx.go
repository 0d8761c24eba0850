package membership

import (
	"sort"
	"strconv"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

// endpointKinds maps each NSX members endpoint to the member kind it lists.
var endpointKinds = func() map[string]memberType {
	m := map[string]memberType{}
	for i, k := range kinds {
		if k.Endpoint != "" {
			m[k.Endpoint] = memberType(i)
		}
	}
	return m
}()

// NSXMembers returns a group's members of one endpoint type (such as
// "kubernetes-services") in NSX's shape, for every cluster or, with
// cluster set, one. clusterID maps a cluster name to the id NSX shows as
// external_id (nil: the name).
func (x *Index) NSXMembers(path, endpoint, cluster string, clusterID func(string) string) model.MemberList {
	out := model.MemberList{Clusters: []model.MemberCluster{}}
	mt, ok := endpointKinds[endpoint]
	if !ok {
		return out
	}
	kind := kinds[mt]
	byCluster := map[string][]Member{}
	for _, m := range x.Members(path) {
		if m.Type == kind.Type.Name && m.ConditionKey == kind.Key && (cluster == "" || m.Key.Cluster == cluster) {
			byCluster[m.Key.Cluster] = append(byCluster[m.Key.Cluster], m)
		}
	}
	names := make([]string, 0, len(byCluster))
	for n := range byCluster {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		id := n
		if clusterID != nil {
			id = clusterID(n)
		}
		mc := model.MemberCluster{DisplayName: n, ExternalID: id}
		namespaces := map[string]*model.MemberNamespace{}
		for _, m := range byCluster[n] {
			x.addNSXMember(&mc, namespaces, m)
		}
		nsNames := make([]string, 0, len(namespaces))
		for k := range namespaces {
			nsNames = append(nsNames, k)
		}
		sort.Strings(nsNames)
		for _, k := range nsNames {
			mc.Namespaces = append(mc.Namespaces, *namespaces[k])
		}
		out.Clusters = append(out.Clusters, mc)
	}
	return out
}

func externalID(m *inventory.Meta) string {
	if m.UID != "" {
		return m.UID
	}
	return m.Name
}

func addrStrings[T interface{ String() string }](in []T) []string {
	out := make([]string, 0, len(in))
	for _, a := range in {
		out = append(out, a.String())
	}
	return out
}

func (x *Index) namespaceEntry(namespaces map[string]*model.MemberNamespace, cluster, name string) *model.MemberNamespace {
	if ns, ok := namespaces[name]; ok {
		return ns
	}
	id := name
	if o, ok := x.others[inventory.Key{Cluster: cluster, Kind: inventory.KindNamespace, Name: name}]; ok {
		id = externalID(o.GetMeta())
	}
	ns := &model.MemberNamespace{DisplayName: name, ExternalID: id}
	namespaces[name] = ns
	return ns
}

func (x *Index) addNSXMember(mc *model.MemberCluster, namespaces map[string]*model.MemberNamespace, m Member) {
	o, ok := x.Object(m.Key)
	if !ok {
		return
	}
	meta := o.GetMeta()
	switch v := o.(type) {
	case *inventory.Service:
		ns := x.namespaceEntry(namespaces, m.Key.Cluster, meta.Namespace)
		ns.KubernetesServices = append(ns.KubernetesServices, x.nsxService(m.Key, v))
	case *inventory.Ingress:
		ns := x.namespaceEntry(namespaces, m.Key.Cluster, meta.Namespace)
		var ips []string
		for _, li := range v.LoadBalancer {
			if li.IP.IsValid() {
				ips = append(ips, li.IP.String())
			}
		}
		ns.KubernetesIngresses = append(ns.KubernetesIngresses, model.PolicyKubernetesIngress{DisplayName: meta.Name, ExternalID: externalID(meta), LoadBalanceIngressIPAddresses: nonNil(ips)})
	case *inventory.Gateway:
		ns := x.namespaceEntry(namespaces, m.Key.Cluster, meta.Namespace)
		ns.KubernetesGateways = append(ns.KubernetesGateways, model.PolicyKubernetesGateway{DisplayName: meta.Name, ExternalID: externalID(meta), GatewayIPAddresses: nonNil(addrStrings(v.Addresses))})
	case *inventory.Egress:
		// The IPs in effect only, like the group's addresses.
		ips := addrStrings(v.EffectiveIPs())
		e := model.PolicyAntreaEgress{DisplayName: meta.Name, ExternalID: externalID(meta), EgressIPs: ips}
		if len(ips) > 0 {
			e.EgressIP = ips[0]
		}
		mc.AntreaEgresses = append(mc.AntreaEgresses, e)
	case *inventory.IPPool:
		p := model.PolicyAntreaIPPool{DisplayName: meta.Name, ExternalID: externalID(meta), IPRanges: []model.PolicyAntreaIPPoolRange{}}
		for _, r := range v.Ranges {
			pr := model.PolicyAntreaIPPoolRange{PrefixLength: r.PrefixLength, VLAN: r.VLAN}
			if r.CIDR.IsValid() {
				pr.CIDR = r.CIDR.String()
			} else {
				pr.Start, pr.End = r.Start.String(), r.End.String()
			}
			if r.Gateway.IsValid() {
				pr.Gateway = r.Gateway.String()
			}
			p.IPRanges = append(p.IPRanges, pr)
		}
		mc.AntreaIPPools = append(mc.AntreaIPPools, p)
	case *inventory.Node:
		n := model.PolicyKubernetesNode{DisplayName: meta.Name, ExternalID: externalID(meta)}
		if m.ConditionKey == model.KeyPodCidr {
			n.PodCidrs = addrStrings(v.PodCIDRs)
		} else {
			n.IPAddresses = addrStrings(v.InternalIPs)
		}
		mc.KubernetesNodes = append(mc.KubernetesNodes, n)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (x *Index) nsxService(k inventory.Key, s *inventory.Service) model.PolicyKubernetesService {
	out := model.PolicyKubernetesService{DisplayName: s.Name, ExternalID: externalID(&s.Meta), Type: string(s.Type),
		ClusterIPs: nonNil(addrStrings(s.ClusterIPs)), LoadBalanceIngresses: []model.PolicyLoadBalancerIngress{}, NodePortLocalEndpoints: []model.PolicyNodePortEndpoint{}}
	if s.Type == inventory.ServiceLoadBalancer {
		for _, li := range s.LoadBalancer {
			pi := model.PolicyLoadBalancerIngress{Hostname: li.Hostname}
			if li.IP.IsValid() {
				pi.LoadBalancerIngressIP = li.IP.String()
			}
			for _, p := range li.Ports {
				pi.Ports = append(pi.Ports, model.PolicyIngressPort{Port: p.Port, Protocol: p.Protocol.String()})
			}
			out.LoadBalanceIngresses = append(out.LoadBalanceIngresses, pi)
		}
	}
	e := x.entities[k]
	if e == nil {
		return out
	}
	endpoint := func(m address.IPPort) model.PolicyNodePortEndpoint {
		return model.PolicyNodePortEndpoint{NodeIP: m.Addr.String(), NodePort: strconv.Itoa(int(m.Port)), Protocol: m.Proto.String()}
	}
	for _, m := range e.contrib[0].ipPorts {
		out.NodePortLocalEndpoints = append(out.NodePortLocalEndpoints, endpoint(m))
	}
	for _, a := range x.NodeIPs(k.Cluster) {
		for _, pp := range e.contrib[0].ports {
			if pp.On(a) {
				out.NodePortEndpoints = append(out.NodePortEndpoints, endpoint(pp.At(a)))
			}
		}
	}
	return out
}
