// Package benchdata generates the inventories and groups kordon's
// benchmarks run at: the foundation issue's scale of 100 clusters, each
// with 100 nodes, 1,000 services, 2,000 pods, 50 egresses, 20 IP pools,
// 100 ingresses and 100 gateways, and 10,010 groups. Nothing but
// benchmarks uses it.
package benchdata

import (
	"fmt"
	"net/netip"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

func cond(member, key, op, value string) *model.Condition {
	return &model.Condition{MemberType: member, Key: key, Operator: op, Value: value}
}

func or() model.Expression { return &model.ConjunctionOperator{ConjunctionOperator: model.ConjOr} }

func nested(conds ...*model.Condition) *model.NestedExpression {
	n := &model.NestedExpression{}
	for i, c := range conds {
		if i > 0 {
			n.Expressions = append(n.Expressions, &model.ConjunctionOperator{ConjunctionOperator: model.ConjAnd})
		}
		n.Expressions = append(n.Expressions, c)
	}
	return n
}

func group(exprs ...model.Expression) *model.Group { return &model.Group{Expression: exprs} }

// scale is the benchmark's shape: per cluster, the counts the foundation
// issue names; groups are spread over clusters (100 per cluster plus a few
// spanning every cluster).
type Scale struct {
	Clusters, Nodes, Services, Pods, Egresses, Pools, Ingresses, Gateways, Namespaces, Apps int
}

// Full is the foundation issue's scale.
var Full = Scale{Clusters: 100, Nodes: 100, Services: 1000, Pods: 2000, Egresses: 50, Pools: 20, Ingresses: 100, Gateways: 100, Namespaces: 20, Apps: 40}

// Addr4 builds an IPv4 address.
func Addr4(a, b, c, d int) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(a), byte(b), byte(c), byte(d)})
}

// Inventory generates the objects of every cluster.
func (s Scale) Inventory() []inventory.Object {
	var out []inventory.Object
	for c := 0; c < s.Clusters; c++ {
		out = append(out, s.ClusterInventory(c)...)
	}
	return out
}

// ClusterInventory generates the objects of the c-th cluster.
func (s Scale) ClusterInventory(c int) []inventory.Object {
	var out []inventory.Object
	cl := fmt.Sprintf("cluster-%03d", c)
	for n := 0; n < s.Namespaces; n++ {
		out = append(out, &inventory.Namespace{Meta: inventory.Meta{Cluster: cl, Name: fmt.Sprintf("ns-%02d", n), Labels: map[string]string{"team": fmt.Sprintf("team-%d", n%5)}}})
	}
	for n := 0; n < s.Nodes; n++ {
		out = append(out, &inventory.Node{Meta: inventory.Meta{Cluster: cl, Name: fmt.Sprintf("node-%03d", n), Labels: map[string]string{"zone": fmt.Sprintf("z%d", n%3)}},
			InternalIPs: []netip.Addr{Addr4(10, c, 0, n+1)}, PodCIDRs: []netip.Prefix{netip.PrefixFrom(Addr4(100, c, n, 0), 24)}})
	}
	for i := 0; i < s.Services; i++ {
		out = append(out, s.Service(cl, c, i, 0))
	}
	for i := 0; i < s.Pods; i++ {
		out = append(out, s.Pod(cl, c, i, 0))
	}
	for i := 0; i < s.Egresses; i++ {
		out = append(out, &inventory.Egress{Meta: inventory.Meta{Cluster: cl, Name: fmt.Sprintf("egress-%02d", i), Labels: map[string]string{"purpose": fmt.Sprintf("p%d", i%10)}},
			StatusIP: Addr4(10, c, 200, i+1)})
	}
	for i := 0; i < s.Pools; i++ {
		out = append(out, &inventory.IPPool{Meta: inventory.Meta{Cluster: cl, Name: fmt.Sprintf("pool-%02d", i), Labels: map[string]string{"routable": "true"}},
			Ranges: []inventory.IPRange{{CIDR: netip.PrefixFrom(Addr4(20, c, i, 0), 24)}}})
	}
	for i := 0; i < s.Ingresses; i++ {
		out = append(out, &inventory.Ingress{Meta: inventory.Meta{Cluster: cl, Namespace: fmt.Sprintf("ns-%02d", i%s.Namespaces), Name: fmt.Sprintf("ing-%03d", i), Labels: map[string]string{"app": fmt.Sprintf("app-%02d", i%s.Apps)}},
			LoadBalancer: []inventory.LoadBalancerIngress{{IP: Addr4(30, c, 1, i+1)}}})
	}
	for i := 0; i < s.Gateways; i++ {
		out = append(out, &inventory.Gateway{Meta: inventory.Meta{Cluster: cl, Namespace: fmt.Sprintf("ns-%02d", i%s.Namespaces), Name: fmt.Sprintf("gw-%03d", i), Labels: map[string]string{"app": fmt.Sprintf("app-%02d", i%s.Apps)}},
			Addresses: []netip.Addr{Addr4(30, c, 2, i+1)}})
	}
	return out
}

// service: 60% ClusterIP, 20% LoadBalancer, 15% NodePort, 5% ClusterIP
// with NodePortLocal. gen varies the VIP so changes can be generated.
// Service is the i-th Service of cluster c; gen varies its VIP.
func (s Scale) Service(cl string, c, i, gen int) *inventory.Service {
	svc := &inventory.Service{Meta: inventory.Meta{Cluster: cl, Namespace: fmt.Sprintf("ns-%02d", i%s.Namespaces), Name: fmt.Sprintf("svc-%04d", i),
		Labels: map[string]string{"app": fmt.Sprintf("app-%02d", i%s.Apps), "tier": []string{"web", "api", "data"}[i%3]}},
		Selector: map[string]string{"app": fmt.Sprintf("app-%02d", i%s.Apps)},
		Ports:    []inventory.ServicePort{{Protocol: address.TCP, Port: 80, TargetPort: 8080}}}
	switch m := i % 20; {
	case m < 12:
		svc.Type = inventory.ServiceClusterIP
	case m < 16:
		svc.Type = inventory.ServiceLoadBalancer
		svc.LoadBalancer = []inventory.LoadBalancerIngress{{IP: Addr4(40+gen%2, c, i/250, i%250+1)}}
	case m < 19:
		svc.Type = inventory.ServiceNodePort
		svc.Ports[0].NodePort = int32(30000 + i)
	default:
		svc.Type, svc.NodePortLocal = inventory.ServiceClusterIP, true
	}
	return svc
}

// pod: every pod of an app whose Service uses NodePortLocal gets a
// mapping on its node.
// Pod is the i-th Pod of cluster c; gen varies its labels.
func (s Scale) Pod(cl string, c, i, gen int) *inventory.Pod {
	app := i % s.Apps
	p := &inventory.Pod{Meta: inventory.Meta{Cluster: cl, Namespace: fmt.Sprintf("ns-%02d", i%s.Namespaces), Name: fmt.Sprintf("pod-%04d", i),
		Labels: map[string]string{"app": fmt.Sprintf("app-%02d", app)}}, IPs: []netip.Addr{Addr4(100, c, i%s.Nodes, i/s.Nodes+2)}}
	if gen%2 == 1 {
		p.Labels["version"] = "v2"
	}
	p.NodePortLocal = []inventory.NPLMapping{{PodPort: 8080, NodeIP: Addr4(10, c, 0, i%s.Nodes+1), NodePort: int32(61000 + i%1000), Protocol: address.TCP}}
	return p
}

// Groups returns 100 groups per cluster and 10 spanning every cluster.
func (s Scale) Groups() map[string]*model.Group {
	out := map[string]*model.Group{}
	add := func(id string, g *model.Group) { out[model.GroupPath("default", id)] = g }
	svc, ing, gw := model.MemberKubernetesService, model.MemberKubernetesIngress, model.MemberKubernetesGateway
	for c := 0; c < s.Clusters; c++ {
		cl := fmt.Sprintf("cluster-%03d", c)
		inCluster := cond(model.MemberKubernetesCluster, "Name", "EQUALS", cl)
		id := func(k string, i int) string { return fmt.Sprintf("%s-%s-%02d", cl, k, i) }
		for a := 0; a < 40; a++ {
			add(id("app", a), group(nested(inCluster, cond(svc, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:app|app-%02d", a%s.Apps)))))
		}
		for n := 0; n < 10; n++ {
			add(id("ns", n), group(nested(inCluster, cond(model.MemberKubernetesNamespace, "Name", "EQUALS", fmt.Sprintf("ns-%02d", n)), cond(svc, "Name", "STARTSWITH", "svc-"))))
		}
		for n := 0; n < 10; n++ {
			add(id("entry", n), group(
				nested(inCluster, cond(model.MemberKubernetesNamespace, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:team|team-%d", n%5)), cond(ing, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:app|app-%02d", n))), or(),
				nested(inCluster, cond(gw, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:app|app-%02d", n)))))
		}
		for n := 0; n < 10; n++ {
			add(id("egress", n), group(nested(inCluster, cond(model.MemberAntreaEgress, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:purpose|p%d", n)))))
		}
		add(id("pools", 0), group(nested(inCluster, cond(model.MemberAntreaIPPool, "Tag", "EQUALS", "dis:k8s:routable|true"))))
		add(id("nodes", 0), group(nested(inCluster, cond(model.MemberKubernetesNode, "IPAddress", "MATCHES", "*"))))
		add(id("podcidrs", 0), group(nested(inCluster, cond(model.MemberKubernetesNode, "PodCidr", "MATCHES", "*"))))
		for n := 0; n < 17; n++ {
			add(id("names", n), group(nested(inCluster, cond(svc, "Name", "IN", fmt.Sprintf("svc-%04d,svc-%04d,svc-%04d", n*50, n*50+17, n*50+35)))))
		}
		for n := 0; n < 10; n++ {
			add(id("nested", n), group(&model.PathExpression{Paths: []string{
				model.GroupPath("default", id("app", n)), model.GroupPath("default", id("egress", n)), model.GroupPath("default", id("nodes", 0))}},
				or(), &model.IPAddressExpression{IPAddresses: []string{fmt.Sprintf("172.16.%d.0/24", c)}}))
		}
	}
	for a := 0; a < 10; a++ {
		add(fmt.Sprintf("global-app-%02d", a), group(cond(svc, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:app|app-%02d", a))))
	}
	return out
}
