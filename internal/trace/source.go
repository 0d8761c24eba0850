package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kordon-dev/kordon/internal/inventory"
)

// Inventory is what tracing reads of the inventory; the membership index
// provides it.
type Inventory interface {
	Object(k inventory.Key) (inventory.Object, bool)
	Objects(cluster string, kind inventory.Kind) []inventory.Object
}

// How a pod's traffic leaves its cluster.
const (
	ViaEgress      = "Egress"      // SNAT to an Antrea Egress IP on the egress node
	ViaIPPool      = "IPPool"      // the pod's own routable address
	ViaNode        = "Node"        // masquerade to the node's IP
	ViaHostNetwork = "HostNetwork" // the pod uses the node's network
)

// Source is one address a pod's traffic may reach a firewall with.
type Source struct {
	Address netip.Addr `json:"address"`
	Via     string     `json:"via"`
	// Object is the inventory object that gives the address: the Egress,
	// IPPool or Node.
	Object string `json:"object"`
	// Node is where the traffic leaves the cluster.
	Node   string `json:"node,omitempty"`
	Reason string `json:"reason"`
}

// EgressCandidate is an Egress whose appliedTo selects the pod.
type EgressCandidate struct {
	Egress string `json:"egress"`
	// IPs are its egress IPs in effect (inventory's Egress.Effect).
	IPs  []netip.Addr `json:"egress_ips"`
	Node string       `json:"egress_node,omitempty"`
	// AppliedTo says how the Egress selects pods.
	AppliedTo string `json:"applied_to"`
	// Usable is false when the Egress has no IP of the flow's family in
	// effect.
	Usable bool `json:"usable"`
	// NotInEffect lists the IPs the Egress names that Antrea has not put
	// in effect, and Why says why no IP is in effect, when none is.
	NotInEffect []netip.Addr `json:"egress_ips_not_in_effect,omitempty"`
	Why         string       `json:"why_no_ip,omitempty"`
}

// Exit is how a pod's traffic to one address family leaves its cluster.
type Exit struct {
	Pod     string       `json:"pod"`
	PodIPs  []netip.Addr `json:"pod_ips"`
	PodNode string       `json:"pod_node,omitempty"`
	// Sources holds the address the firewall sees; several when Antrea's
	// choice among Egresses is not deterministic, none when it cannot be
	// known (Unresolved says why).
	Sources    []Source          `json:"sources"`
	Egresses   []EgressCandidate `json:"egresses_selecting_pod"`
	Ambiguous  bool              `json:"ambiguous"`
	Unresolved string            `json:"unresolved,omitempty"`
	Notes      []string          `json:"notes,omitempty"`
}

// ParsePodRef reads CLUSTER/NAMESPACE/NAME.
func ParsePodRef(s string) (inventory.Key, error) {
	return parseRef(s, inventory.KindPod)
}

func parseRef(s string, kind inventory.Kind) (inventory.Key, error) {
	p := strings.Split(s, "/")
	if len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
		return inventory.Key{}, fmt.Errorf("%q is not CLUSTER/NAMESPACE/NAME", s)
	}
	return inventory.Key{Cluster: p[0], Kind: kind, Namespace: p[1], Name: p[2]}, nil
}

// PodExit decides which source address traffic from a pod to an address
// of the given family (v4 or not) reaches firewalls outside the cluster
// with: the pod's own address when it comes from an Antrea IPPool
// (bridged pods bypass Egress), else the IP of an Egress selecting the
// pod, else the node's IP.
func PodExit(inv Inventory, key inventory.Key, v4 bool) (Exit, error) {
	o, ok := inv.Object(key)
	if !ok {
		return Exit{}, fmt.Errorf("pod %s/%s/%s is not in the inventory", key.Cluster, key.Namespace, key.Name)
	}
	pod := o.(*inventory.Pod)
	ex := Exit{Pod: key.Cluster + "/" + key.Namespace + "/" + key.Name, PodIPs: pod.IPs, PodNode: pod.NodeName, Egresses: []EgressCandidate{}, Sources: []Source{}}
	fam := familyName(v4)
	node, nodeKnown := nodeOf(inv, key.Cluster, pod.NodeName)
	nodeIPs := familyAddrs(nodeIPsOf(node), v4)

	if pod.HostNetwork {
		if !nodeKnown {
			ex.Unresolved = fmt.Sprintf("the pod uses its node's network, and its node %q is not in the inventory (it may have left the cluster)", pod.NodeName)
			return ex, nil
		}
		for _, a := range nodeIPs {
			ex.Sources = append(ex.Sources, Source{Address: a, Via: ViaHostNetwork, Object: nodeRef(key.Cluster, node.Name), Node: node.Name,
				Reason: "the pod runs in its node's network namespace: it sends with the node's own address, and no Egress applies"})
		}
		if len(ex.Sources) == 0 {
			ex.Unresolved = fmt.Sprintf("the pod uses its node's network, and node %s has no %s InternalIP", node.Name, fam)
		}
		return ex, nil
	}
	podIPs := familyAddrs(pod.IPs, v4)

	// Every Egress whose appliedTo selects the pod, usable or not.
	nsLabels := namespaceLabels(inv, key.Cluster, key.Namespace)
	var usable []EgressCandidate
	for _, eo := range inv.Objects(key.Cluster, inventory.KindEgress) {
		e := eo.(*inventory.Egress)
		if at, ok := compileAppliedTo(e); !ok || !at.selects(pod.Labels, nsLabels) {
			continue
		}
		eff := e.Effect()
		c := EgressCandidate{Egress: e.Name, IPs: eff.IPs, Node: e.EgressNode, AppliedTo: describeAppliedTo(e), NotInEffect: eff.Named, Why: eff.Why}
		c.Usable = len(familyAddrs(c.IPs, v4)) > 0
		ex.Egresses = append(ex.Egresses, c)
		switch {
		case len(c.IPs) == 0 && len(eff.Named) > 0:
			ex.Notes = append(ex.Notes, fmt.Sprintf("Egress %s selects the pod but its %s not in effect: %s; Antrea installs no SNAT for it, so it does not change the pod's source address", e.Name, namedIPs(eff.Named), eff.Why))
		case len(c.IPs) == 0:
			ex.Notes = append(ex.Notes, fmt.Sprintf("Egress %s selects the pod but has no egress IP assigned yet: until Antrea assigns one, it does not change the pod's source address", e.Name))
		case !c.Usable:
			ex.Notes = append(ex.Notes, fmt.Sprintf("Egress %s selects the pod but has no %s egress IP: %s traffic is not SNATed by it", e.Name, fam, fam))
		default:
			usable = append(usable, c)
			if e.ExternalIPPool == "" && e.SpecIP.IsValid() && e.EgressNode == "" {
				// antrea-agent (syncEgress) realizes a manual IP without
				// reading the status: the pod's node tunnels the traffic
				// to the IP (snatRuleFlow), whichever Node holds it.
				ex.Notes = append(ex.Notes, fmt.Sprintf("no Node reports holding Egress %s's IP %s (status.egressNode is empty): Antrea still tunnels the pod's traffic to that IP, which must be assigned to a Node by hand (the Egress has no externalIPPool)", e.Name, e.SpecIP))
			}
		}
	}
	if len(podIPs) == 0 {
		if len(pod.IPs) == 0 {
			ex.Unresolved = "the pod has no address yet (it is not running), so it sends nothing"
		} else {
			ex.Unresolved = fmt.Sprintf("the pod has no %s address (its cluster or pod is not dual-stack), so it cannot reach a %s destination", fam, fam)
		}
		return ex, nil
	}

	// First, a routable address from an Antrea IPPool. Such pods are bridged
	// to the underlay: their traffic leaves through the node's uplink,
	// not through the Antrea gateway where Egress SNAT happens, so an
	// Egress selecting them does not apply.
	for _, po := range inv.Objects(key.Cluster, inventory.KindIPPool) {
		pool := po.(*inventory.IPPool)
		for _, a := range podIPs {
			if poolContains(pool, a) {
				ex.Sources = append(ex.Sources, Source{Address: a, Via: ViaIPPool, Object: key.Cluster + "/IPPool/" + pool.Name, Node: pod.NodeName,
					Reason: fmt.Sprintf("the pod's address is in IPPool %s: the pod is bridged to the underlay network and leaves with its own routable address, without SNAT", pool.Name)})
			}
		}
	}
	if len(ex.Sources) > 0 {
		for _, c := range usable {
			ex.Notes = append(ex.Notes, fmt.Sprintf("Egress %s selects the pod, but the pod has a routable IPPool address: its traffic is bridged to the underlay and bypasses the Antrea gateway where Egress SNAT happens", c.Egress))
		}
		return ex, nil
	}

	// Then the IP of an Egress that selects the pod.
	if len(usable) > 0 {
		seen := map[netip.Addr]bool{}
		for _, c := range usable {
			for _, a := range familyAddrs(c.IPs, v4) {
				if seen[a] {
					continue
				}
				seen[a] = true
				where := "the Node that holds the egress IP (none reports it yet)"
				if c.Node != "" {
					where = "egress node " + c.Node
				}
				ex.Sources = append(ex.Sources, Source{Address: a, Via: ViaEgress, Object: key.Cluster + "/Egress/" + c.Egress, Node: c.Node,
					Reason: fmt.Sprintf("Egress %s selects the pod (appliedTo %s): Antrea tunnels its traffic to %s, which SNATs it to the egress IP", c.Egress, c.AppliedTo, where)})
			}
		}
		if len(ex.Sources) > 1 {
			ex.Ambiguous = true
			ex.Notes = append(ex.Notes, "several Egresses with different egress IPs select the pod: Antrea uses one of them and does not define which (in practice the first its agent processed), so every candidate is traced")
		}
		return ex, nil
	}

	// Else masquerade to the node's IP.
	if !nodeKnown {
		if pod.NodeName == "" {
			ex.Unresolved = "the pod is not scheduled on a node, so it sends nothing yet"
		} else {
			ex.Unresolved = fmt.Sprintf("no Egress or IPPool applies, so the pod's traffic is masqueraded to its node's IP, but node %q is not in the inventory (it may have left the cluster)", pod.NodeName)
		}
		return ex, nil
	}
	for _, a := range nodeIPs {
		ex.Sources = append(ex.Sources, Source{Address: a, Via: ViaNode, Object: nodeRef(key.Cluster, node.Name), Node: node.Name,
			Reason: fmt.Sprintf("no Egress with an %s IP selects the pod and its address is in no IPPool: its node %s masquerades it to the node's IP", fam, node.Name)})
	}
	if len(ex.Sources) == 0 {
		ex.Unresolved = fmt.Sprintf("the pod's traffic is masqueraded to its node's IP, but node %s has no %s InternalIP", node.Name, fam)
	}
	if len(ex.Sources) > 1 {
		ex.Notes = append(ex.Notes, fmt.Sprintf("node %s has several %s InternalIPs; the kernel's route to the destination picks one", node.Name, fam))
	}
	return ex, nil
}

// namedIPs names egress IPs: "egress IP a is" or "egress IPs a, b are".
func namedIPs(in []netip.Addr) string {
	out := make([]string, len(in))
	for i, a := range in {
		out[i] = a.String()
	}
	if len(out) == 1 {
		return "egress IP " + out[0] + " is"
	}
	return "egress IPs " + strings.Join(out, ", ") + " are"
}

func familyName(v4 bool) string {
	if v4 {
		return "IPv4"
	}
	return "IPv6"
}

func familyAddrs(in []netip.Addr, v4 bool) []netip.Addr {
	var out []netip.Addr
	for _, a := range in {
		if a.Unmap().Is4() == v4 {
			out = append(out, a.Unmap())
		}
	}
	return out
}

func nodeRef(cluster, name string) string { return cluster + "/Node/" + name }

func nodeOf(inv Inventory, cluster, name string) (*inventory.Node, bool) {
	if name == "" {
		return nil, false
	}
	o, ok := inv.Object(inventory.Key{Cluster: cluster, Kind: inventory.KindNode, Name: name})
	if !ok {
		return nil, false
	}
	return o.(*inventory.Node), true
}

func nodeIPsOf(n *inventory.Node) []netip.Addr {
	if n == nil {
		return nil
	}
	return n.InternalIPs
}

// namespaceLabels returns a namespace's labels with the label Kubernetes
// sets on every namespace (kubernetes.io/metadata.name), which dumps and
// older objects may lack but selectors commonly use.
func namespaceLabels(inv Inventory, cluster, ns string) labels.Set {
	out := labels.Set{"kubernetes.io/metadata.name": ns}
	if o, ok := inv.Object(inventory.Key{Cluster: cluster, Kind: inventory.KindNamespace, Name: ns}); ok {
		for k, v := range o.GetMeta().Labels {
			out[k] = v
		}
	}
	return out
}

// appliedTo is an Egress's appliedTo, compiled, with Antrea's semantics:
// podSelector alone selects pods cluster-wide, namespaceSelector alone
// every pod of the selected namespaces, both together their
// intersection.
type appliedTo struct{ pod, ns labels.Selector }

// compileAppliedTo reports false for an appliedTo that selects nothing:
// empty, or with a selector Kubernetes would refuse.
func compileAppliedTo(e *inventory.Egress) (appliedTo, bool) {
	if e.PodSelector == nil && e.NamespaceSelector == nil {
		return appliedTo{}, false
	}
	compile := func(s *metav1.LabelSelector) (labels.Selector, bool) {
		if s == nil {
			return labels.Everything(), true
		}
		l, err := metav1.LabelSelectorAsSelector(s)
		return l, err == nil
	}
	pod, ok1 := compile(e.PodSelector)
	ns, ok2 := compile(e.NamespaceSelector)
	return appliedTo{pod, ns}, ok1 && ok2
}

func (a appliedTo) selects(pod, ns labels.Set) bool { return a.pod.Matches(pod) && a.ns.Matches(ns) }

func describeAppliedTo(e *inventory.Egress) string {
	var parts []string
	if e.NamespaceSelector != nil {
		parts = append(parts, "namespaceSelector "+metav1.FormatLabelSelector(e.NamespaceSelector))
	}
	if e.PodSelector != nil {
		parts = append(parts, "podSelector "+metav1.FormatLabelSelector(e.PodSelector))
	}
	return strings.Join(parts, " and ")
}

func poolContains(p *inventory.IPPool, a netip.Addr) bool {
	for _, r := range p.Ranges {
		if r.Range().Contains(a) {
			return true
		}
	}
	return false
}

// routablePool returns the IPPool of the cluster that holds the address.
func routablePool(inv Inventory, cluster string, a netip.Addr) (string, bool) {
	pools := inv.Objects(cluster, inventory.KindIPPool)
	names := make([]string, 0, len(pools))
	byName := map[string]*inventory.IPPool{}
	for _, o := range pools {
		p := o.(*inventory.IPPool)
		names = append(names, p.Name)
		byName[p.Name] = p
	}
	sort.Strings(names)
	for _, n := range names {
		if poolContains(byName[n], a) {
			return n, true
		}
	}
	return "", false
}

// Ambiguity is a pod whose source address is not determined: Egresses
// with different IPs of one family select it.
type Ambiguity struct {
	Pod      inventory.Key
	Egresses []string
	IPs      []netip.Addr
}

// Ambiguous lists the pods of a cluster that several Egresses with
// different IPs of one family select (and that have no routable IPPool
// address, which Egress SNAT does not apply to). It compiles each
// Egress's selectors once, so it serves a whole cluster; PodExit
// answers the same question for one pod.
func Ambiguous(inv Inventory, cluster string) []Ambiguity {
	type sel struct {
		e  *inventory.Egress
		at appliedTo
	}
	var sels []sel
	for _, o := range inv.Objects(cluster, inventory.KindEgress) {
		e := o.(*inventory.Egress)
		if at, ok := compileAppliedTo(e); ok && len(e.EffectiveIPs()) > 0 {
			sels = append(sels, sel{e, at})
		}
	}
	if len(sels) < 2 {
		return nil
	}
	var pools []*inventory.IPPool
	for _, o := range inv.Objects(cluster, inventory.KindIPPool) {
		pools = append(pools, o.(*inventory.IPPool))
	}
	nsLabels := map[string]labels.Set{}
	var out []Ambiguity
	for _, o := range inv.Objects(cluster, inventory.KindPod) {
		pod := o.(*inventory.Pod)
		if pod.HostNetwork {
			continue
		}
		nl, ok := nsLabels[pod.Namespace]
		if !ok {
			nl = namespaceLabels(inv, cluster, pod.Namespace)
			nsLabels[pod.Namespace] = nl
		}
		for _, v4 := range []bool{true, false} {
			ips := familyAddrs(pod.IPs, v4)
			if len(ips) == 0 || slices.ContainsFunc(pools, func(p *inventory.IPPool) bool {
				return slices.ContainsFunc(ips, func(a netip.Addr) bool { return poolContains(p, a) })
			}) {
				continue
			}
			var names []string
			var seen []netip.Addr
			for _, s := range sels {
				if !s.at.selects(pod.Labels, nl) {
					continue
				}
				fam := familyAddrs(s.e.EffectiveIPs(), v4)
				if len(fam) == 0 {
					continue
				}
				names = append(names, s.e.Name)
				for _, a := range fam {
					if !slices.Contains(seen, a) {
						seen = append(seen, a)
					}
				}
			}
			if len(seen) > 1 {
				out = append(out, Ambiguity{Pod: inventory.KeyOf(pod), Egresses: names, IPs: seen})
				break
			}
		}
	}
	return out
}
