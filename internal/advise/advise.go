package advise

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/reach"
	"github.com/kordon-dev/kordon/internal/trace"
)

// Severities, most pressing first.
const (
	Warning = "warning"
	Info    = "info"
)

// Finding codes.
const (
	CodePlacementGFW      = "filter-cluster-to-vm-on-gateway"
	CodePlacementDFW      = "filter-vm-to-cluster-on-dfw"
	CodeSourceAsDest      = "source-side-type-as-destination"
	CodeDestAsSource      = "destination-side-type-as-source"
	CodeClusterIPGroup    = "clusterip-services-match-nothing"
	CodeEgressUnassigned  = "egress-without-ip"
	CodeEgressNotInEffect = "egress-ip-not-in-effect"
	CodeNoAddressYet      = "vip-without-address"
	CodeEmptyGroup        = "group-resolves-to-nothing"
	CodeShadowed          = "rule-shadowed"
	CodeRedundant         = "rule-redundant"
	CodeTooComplex        = "analysis-incomplete"
	CodeStaleMembers      = "members-of-cluster-not-up"
	CodeEgressAmbiguous   = "egress-choice-ambiguous"
	CodeNodePortNoNodes   = "nodeport-without-nodes"
)

// Finding is one piece of advice: what is wrong, the objects involved,
// and how to fix it.
//
// A finding whose cause has many instances (pods that one set of
// Egresses selects ambiguously, NodePort Services of one cluster without
// nodes) is reported once for the cause: Objects names the cause, Count
// how many instances it has and Sample the first MaxSample of them
// (sorted). Both are absent when the finding stands for one instance,
// which Objects then names as before.
type Finding struct {
	Code     string   `json:"code"`
	Severity string   `json:"severity"`
	Message  string   `json:"message"`
	Objects  []string `json:"objects"`
	Fix      string   `json:"fix"`
	Count    int      `json:"count,omitempty"`
	Sample   []string `json:"sample,omitempty"`
}

// MaxSample bounds the instances an aggregated finding lists.
const MaxSample = 5

// sample returns the first MaxSample of the sorted instances.
func sample(items []string) []string {
	s := slices.Clone(items)
	sort.Strings(s)
	return s[:min(len(s), MaxSample)]
}

// Input is what the advisor reads.
type Input struct {
	Config *model.Config
	Index  *membership.Index
	// ClusterStatus returns a registered cluster's status (Up, Down,
	// Unknown); nil when statuses are not known (offline).
	ClusterStatus func(cluster string) (string, bool)
	// Reach bounds the exact rule analysis; the zero value is its default.
	Reach reach.Options
	// SkipRules leaves out the shadowed and redundant rule analysis, for a
	// caller that runs it with RuleFindings outside a lock.
	SkipRules bool
}

// Advise reads the configuration and inventory and reports findings,
// most pressing first.
func Advise(in Input) []Finding {
	a := &advisor{in: in, cfg: in.Config, idx: in.Index, types: map[string]typeSet{}, clusterIPOnly: map[string]bool{}}
	a.placement()
	a.clusterIPGroups()
	a.emptyGroups()
	a.inventoryObjects()
	a.egressAmbiguity()
	a.staleMembers()
	if !in.SkipRules {
		rs := Rulesets(in.Config, in.Index)
		// The analysis reads the compiled rulesets only. Letting go of
		// the index here lets a caller that no longer holds it (an
		// offline run) free the inventory before the analysis's peak,
		// instead of holding both at once.
		a.idx, a.in.Index, in.Index = nil, nil, nil
		a.out = append(a.out, RuleFindings(rs, in.Reach)...)
	}
	Sort(a.out)
	if a.out == nil {
		return []Finding{}
	}
	return a.out
}

// Sort orders findings: warnings first, then by code and objects.
func Sort(out []Finding) {
	sort.SliceStable(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Severity != y.Severity {
			return x.Severity == Warning
		}
		if x.Code != y.Code {
			return x.Code < y.Code
		}
		return strings.Join(x.Objects, ",") < strings.Join(y.Objects, ",")
	})
}

type advisor struct {
	in    Input
	cfg   *model.Config
	idx   *membership.Index
	types map[string]typeSet
	out   []Finding
	// clusterIPOnly holds the groups already reported as selecting only
	// ClusterIP Services, which need no second finding for being empty.
	clusterIPOnly map[string]bool
}

func (a *advisor) add(f Finding) { a.out = append(a.out, f) }

// typeSet is the Kubernetes member types a group selects by, with
// nested groups included (KubernetesNode split by key).
type typeSet map[string]bool

const nodePodCIDR = model.MemberKubernetesNode + "/" + model.KeyPodCidr

var (
	sourceSide = []string{model.MemberAntreaEgress, model.MemberKubernetesNode, nodePodCIDR}
	destSide   = []string{model.MemberKubernetesService, model.MemberKubernetesIngress, model.MemberKubernetesGateway}
)

func (a *advisor) groupTypes(path string) typeSet {
	if t, ok := a.types[path]; ok {
		return t
	}
	t := typeSet{}
	a.types[path] = t // guards against cycles (validation refuses them anyway)
	g, ok := a.cfg.Groups[path]
	if !ok {
		return t
	}
	var walk func(l model.ExpressionList)
	walk = func(l model.ExpressionList) {
		for _, e := range l {
			switch x := e.(type) {
			case *model.Condition:
				switch {
				case x.MemberType == model.MemberKubernetesNode && x.Key == model.KeyPodCidr:
					t[nodePodCIDR] = true
				case x.MemberType != model.MemberKubernetesCluster && x.MemberType != model.MemberKubernetesNamespace:
					t[x.MemberType] = true
				}
			case *model.NestedExpression:
				walk(x.Expressions)
			case *model.PathExpression:
				for _, p := range x.Paths {
					for k := range a.groupTypes(p) {
						t[k] = true
					}
				}
			}
		}
	}
	walk(g.Expression)
	return t
}

// typesIn returns, sorted, the groups of list that select by one of the
// member types, with the types found.
func (a *advisor) typesIn(list []string, types []string) (groups, found []string) {
	seen := map[string]bool{}
	for _, p := range list {
		t := a.groupTypes(p)
		hit := false
		for _, k := range types {
			if t[k] {
				hit = true
				if !seen[k] {
					seen[k] = true
					found = append(found, typeName(k))
				}
			}
		}
		if hit {
			groups = append(groups, p)
		}
	}
	sort.Strings(found)
	return groups, found
}

func typeName(k string) string {
	if k == nodePodCIDR {
		return "KubernetesNode (PodCidr)"
	}
	return k
}

func sortedRules(cfg *model.Config) []*model.Rule {
	out := make([]*model.Rule, 0, len(cfg.Rules))
	for _, r := range cfg.Rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// placement applies the seed's recommendation, and flags member types
// used on the side of a rule where they never match traffic.
func (a *advisor) placement() {
	for _, r := range sortedRules(a.cfg) {
		if r.Disabled {
			continue
		}
		_, gfw := a.cfg.GatewayPolicies[r.ParentPath]
		if srcGroups, types := a.typesIn(r.SourceGroups, append(sourceSide, model.MemberAntreaIPPool)); !gfw && len(srcGroups) > 0 && !r.SourcesExcluded {
			a.add(Finding{Code: CodePlacementGFW, Severity: Info, Objects: append([]string{r.Path}, srcGroups...),
				Message: fmt.Sprintf("distributed firewall rule %s filters traffic leaving Antrea clusters (its sources select %s)", r.Path, strings.Join(types, ", ")),
				Fix:     "filter cluster-to-VM traffic on the gateway firewall of the tier-0/tier-1 where it enters the NSX network: it is stopped at the earliest point, before it reaches any VM's segment"})
		}
		if dstGroups, types := a.typesIn(r.DestinationGroups, append(destSide, model.MemberAntreaIPPool)); gfw && len(dstGroups) > 0 && !r.DestinationsExcluded {
			a.add(Finding{Code: CodePlacementDFW, Severity: Info, Objects: append([]string{r.Path}, dstGroups...),
				Message: fmt.Sprintf("gateway firewall rule %s filters traffic entering Antrea clusters (its destinations select %s)", r.Path, strings.Join(types, ", ")),
				Fix:     "filter VM-to-cluster traffic on the distributed firewall, applied to the source VMs: it is stopped as it leaves the VM, before it crosses the network"})
		}
		if g, types := a.typesIn(r.DestinationGroups, []string{model.MemberAntreaEgress, nodePodCIDR}); len(g) > 0 && !r.DestinationsExcluded {
			a.add(Finding{Code: CodeSourceAsDest, Severity: Warning, Objects: append([]string{r.Path}, g...),
				Message: fmt.Sprintf("rule %s uses %s as destination: egress IPs are the source addresses pods leave a cluster with, and pod CIDRs are not reachable from outside; neither is where traffic into a cluster goes", r.Path, strings.Join(types, ", ")),
				Fix:     "to match traffic into a cluster, use groups of KubernetesService (LoadBalancer, NodePort, NodePortLocal), KubernetesIngress, KubernetesGateway or AntreaIPPool members as destination; keep Egress groups as sources"})
		} else if g, _ := a.typesIn(r.DestinationGroups, []string{model.MemberKubernetesNode}); len(g) > 0 && !r.DestinationsExcluded {
			a.add(Finding{Code: CodeSourceAsDest, Severity: Info, Objects: append([]string{r.Path}, g...),
				Message: fmt.Sprintf("rule %s uses node IPs (KubernetesNode) as destination: right for traffic to the nodes themselves (SSH, the API server, kubelet), but the seed's Node member type describes the address pods leave with", r.Path),
				Fix:     "for traffic to workloads through NodePort or NodePortLocal, use a KubernetesService group: it holds exactly the node IP + port of each Service, and follows its changes"})
		}
		if g, types := a.typesIn(r.SourceGroups, destSide); len(g) > 0 && !r.SourcesExcluded {
			a.add(Finding{Code: CodeDestAsSource, Severity: Warning, Objects: append([]string{r.Path}, g...),
				Message: fmt.Sprintf("rule %s uses %s as source: VIPs and node ports receive traffic; connections the cluster opens leave with an Egress IP, a node IP or a routable pod IP", r.Path, strings.Join(types, ", ")),
				Fix:     "to match traffic leaving a cluster, use groups of AntreaEgress, KubernetesNode or AntreaIPPool members as source (replies to inbound connections need no rule: the firewall is stateful)"})
		}
	}
}

// usedGroups maps each group path to the rules and policies that use it.
func (a *advisor) usedGroups() map[string][]string {
	used := map[string][]string{}
	addAll := func(list []string, by string) {
		for _, p := range list {
			if _, ok := a.cfg.Groups[p]; ok {
				used[p] = append(used[p], by)
			}
		}
	}
	for _, r := range sortedRules(a.cfg) {
		addAll(r.SourceGroups, r.Path)
		addAll(r.DestinationGroups, r.Path)
		addAll(r.Scope, r.Path)
	}
	for p, sp := range a.cfg.SecurityPolicies {
		addAll(sp.Scope, p)
	}
	for _, l := range used {
		sort.Strings(l)
	}
	return used
}

func (a *advisor) clusterIPGroups() {
	for _, p := range a.idx.Groups() {
		var svcs, ignored []string
		only := true
		for _, m := range a.idx.Members(p) {
			if m.Type != model.MemberKubernetesService {
				only = false
				continue
			}
			o, ok := a.idx.Object(m.Key)
			if !ok {
				continue
			}
			s := o.(*inventory.Service)
			if s.Type == inventory.ServiceClusterIP && !s.NodePortLocal {
				svcs = append(svcs, m.Key.String())
				if s.NodePortLocalIgnored != "" {
					ignored = append(ignored, fmt.Sprintf("%s has nodeportlocal.antrea.io/enabled: %s", m.Key, s.NodePortLocalIgnored))
				}
			} else {
				only = false
			}
		}
		if len(svcs) == 0 {
			continue
		}
		sort.Strings(svcs)
		only = only && len(a.idx.Ranges(p)) == 0 && len(a.idx.IPPorts(p)) == 0
		f := Finding{Code: CodeClusterIPGroup, Severity: Warning, Objects: append([]string{p}, svcs...),
			Fix: "ClusterIP addresses are not reachable from outside the cluster: annotate the Services with nodeportlocal.antrea.io/enabled: \"true\" (NodePortLocal), or make them NodePort or LoadBalancer Services"}
		if only {
			a.clusterIPOnly[p] = true
			f.Message = fmt.Sprintf("group %s selects only ClusterIP Services without NodePortLocal: it never matches any traffic", p)
		} else {
			f.Severity = Info
			f.Message = fmt.Sprintf("group %s selects ClusterIP Services without NodePortLocal, which contribute no address to it", p)
		}
		if len(ignored) > 0 {
			// Antrea's NodePortLocal controller acts on the exact value
			// "true" only.
			sort.Strings(ignored)
			f.Message += fmt.Sprintf("; Antrea enables NodePortLocal only for the exact value \"true\", and %s", strings.Join(ignored, ", "))
		}
		a.add(f)
	}
}

func (a *advisor) emptyGroups() {
	used := a.usedGroups()
	for _, p := range a.idx.Groups() {
		if a.clusterIPOnly[p] || len(a.idx.Ranges(p)) > 0 || len(a.idx.IPPorts(p)) > 0 {
			continue
		}
		f := Finding{Code: CodeEmptyGroup, Severity: Info, Objects: []string{p},
			Message: fmt.Sprintf("group %s resolves to no address", p),
			Fix:     "check its criteria against the inventory (kordon members shows what each criterion selects); a group that is empty now fills as matching objects appear"}
		if by := used[p]; len(by) > 0 {
			f.Severity = Warning
			f.Objects = append(f.Objects, by...)
			f.Message = fmt.Sprintf("group %s resolves to no address, so the rules that use it as source or destination match nothing (and a policy or rule applied to it applies nowhere): %s", p, strings.Join(by, ", "))
		}
		a.add(f)
	}
}

func (a *advisor) inventoryObjects() {
	for _, c := range a.idx.Clusters() {
		if c == inventory.VMCluster {
			continue
		}
		for _, o := range a.idx.Objects(c, inventory.KindEgress) {
			e := o.(*inventory.Egress)
			eff := e.Effect()
			switch {
			case len(eff.IPs) > 0:
			case len(eff.Named) == 0:
				msg := fmt.Sprintf("Egress %s in cluster %s has no egress IP assigned: the pods it selects leave masqueraded to their nodes' IPs (unless another Egress or an IPPool gives them their address), and it contributes no address to the groups that select it", e.Name, c)
				if cond, ok := e.Condition(inventory.EgressIPAllocated); ok && cond.Status == "False" {
					msg += " (" + eff.Why + ")"
				}
				a.add(Finding{Code: CodeEgressUnassigned, Severity: Warning, Objects: []string{inventory.KeyOf(e).String()}, Message: msg,
					Fix: "give it spec.egressIP, or an externalIPPool with free addresses and a node its nodeSelector matches; kordon updates the groups once Antrea reports the IP"})
			default:
				// Antrea's agent installs SNAT only for a manual
				// spec.egressIP or a pool's IP a Node took (inventory's
				// Egress.Effect says which and why).
				fix := "check the ExternalIPPool's nodeSelector matches Nodes that are up and can hold the IP (the Egress's IPAssigned condition says why none took it); kordon adds the address to the groups once Antrea reports it in status.egressIP"
				if !e.SpecIP.IsValid() {
					fix = "set the IP in spec.egressIP (with or without an externalIPPool): Antrea realizes only spec.egressIP"
				}
				a.add(Finding{Code: CodeEgressNotInEffect, Severity: Warning, Objects: []string{inventory.KeyOf(e).String()},
					Message: fmt.Sprintf("Egress %s in cluster %s names %s, but it is not in effect: %s. Antrea installs no SNAT for it: the pods it selects leave masqueraded to their nodes' IPs (unless another Egress or an IPPool gives them their address), and it contributes no address to the groups that select it", e.Name, c, joinAddrs(eff.Named), eff.Why),
					Fix:     fix})
			}
		}
		nodes := len(a.idx.Objects(c, inventory.KindNode))
		var nodePorts []string
		for _, o := range a.idx.Objects(c, inventory.KindService) {
			s := o.(*inventory.Service)
			if s.Type == inventory.ServiceLoadBalancer && !hasIP(s.LoadBalancer) {
				a.add(noAddress(inventory.KeyOf(s).String(), "LoadBalancer Service", "status.loadBalancer.ingress"))
			}
			if s.Type == inventory.ServiceNodePort && nodes == 0 {
				nodePorts = append(nodePorts, inventory.KeyOf(s).String())
			}
		}
		// One cause, the cluster without nodes, for all its NodePort
		// Services.
		switch fix := "check that the cluster's adapter can list Nodes (its ClusterRole)"; {
		case len(nodePorts) == 1:
			a.add(Finding{Code: CodeNodePortNoNodes, Severity: Info, Objects: nodePorts,
				Message: fmt.Sprintf("NodePort Service %s resolves to nothing: cluster %s has no node in the inventory", nodePorts[0], c),
				Fix:     fix})
		case len(nodePorts) > 1:
			a.add(Finding{Code: CodeNodePortNoNodes, Severity: Info, Objects: []string{c}, Count: len(nodePorts), Sample: sample(nodePorts),
				Message: fmt.Sprintf("%d NodePort Services of cluster %s resolve to nothing: the cluster has no node in the inventory", len(nodePorts), c),
				Fix:     fix})
		}
		for _, o := range a.idx.Objects(c, inventory.KindIngress) {
			in := o.(*inventory.Ingress)
			if !hasIP(in.LoadBalancer) {
				a.add(noAddress(inventory.KeyOf(in).String(), "Ingress", "status.loadBalancer.ingress"))
			}
		}
		for _, o := range a.idx.Objects(c, inventory.KindGateway) {
			g := o.(*inventory.Gateway)
			if len(g.Addresses) == 0 {
				a.add(noAddress(inventory.KeyOf(g).String(), "Gateway", "status.addresses"))
			}
		}
	}
}

// joinAddrs names egress IPs: "egress IP a" or "egress IPs a, b".
func joinAddrs(in []netip.Addr) string {
	out := make([]string, len(in))
	for i, a := range in {
		out[i] = a.String()
	}
	if len(out) == 1 {
		return "egress IP " + out[0]
	}
	return "egress IPs " + strings.Join(out, ", ")
}

func hasIP(l []inventory.LoadBalancerIngress) bool {
	for _, i := range l {
		if i.IP.IsValid() {
			return true
		}
	}
	return false
}

func noAddress(obj, what, field string) Finding {
	return Finding{Code: CodeNoAddressYet, Severity: Info, Objects: []string{obj},
		Message: fmt.Sprintf("%s %s has no IP address yet (%s is empty or holds only hostnames): groups match it only once it has one", what, obj, field),
		Fix:     "check its load balancer or Gateway controller; kordon adds the address to groups as soon as the status reports it"}
}

// egressAmbiguity finds pods that several Egresses with different IPs
// select: their source address is not determined.
func (a *advisor) egressAmbiguity() {
	for _, c := range a.idx.Clusters() {
		if c == inventory.VMCluster {
			continue
		}
		// Pods selected by the same Egresses with the same IPs share one
		// cause: one finding each, in the order first seen.
		type cause struct {
			egresses, ips []string
			first         inventory.Key
			pods          []string
		}
		var causes []*cause
		byKey := map[string]*cause{}
		for _, amb := range trace.Ambiguous(a.idx, c) {
			var ips []string
			for _, ip := range amb.IPs {
				ips = append(ips, ip.String())
			}
			k := strings.Join(amb.Egresses, "\x00") + "\x01" + strings.Join(ips, "\x00")
			cs, ok := byKey[k]
			if !ok {
				cs = &cause{egresses: amb.Egresses, ips: ips, first: amb.Pod}
				byKey[k] = cs
				causes = append(causes, cs)
			}
			cs.pods = append(cs.pods, amb.Pod.String())
		}
		const fix = "narrow the Egresses' appliedTo selectors so that at most one selects each pod, or give them the same egress IP"
		for _, cs := range causes {
			var egs []string
			for _, e := range cs.egresses {
				egs = append(egs, c+"/Egress/"+e)
			}
			if len(cs.pods) == 1 {
				a.add(Finding{Code: CodeEgressAmbiguous, Severity: Warning, Objects: append([]string{cs.pods[0]}, egs...),
					Message: fmt.Sprintf("pod %s/%s/%s is selected by several Egresses with different IPs (%s): Antrea picks one and does not say which, so firewall rules cannot rely on its source address", c, cs.first.Namespace, cs.first.Name, strings.Join(cs.ips, ", ")),
					Fix:     fix})
				continue
			}
			a.add(Finding{Code: CodeEgressAmbiguous, Severity: Warning, Objects: egs, Count: len(cs.pods), Sample: sample(cs.pods),
				Message: fmt.Sprintf("%d pods of cluster %s are selected by the same Egresses, %s, which have different IPs (%s): Antrea picks one for each pod and does not say which, so firewall rules cannot rely on their source addresses", len(cs.pods), c, strings.Join(cs.egresses, ", "), strings.Join(cs.ips, ", ")),
				Fix:     fix})
		}
	}
}

// Rulesets compiles the rulesets the rule analysis reads: the DFW (with
// the offline Applied To semantics) and each gateway's firewall. It reads
// the configuration and memberships; the analysis then needs neither.
func Rulesets(cfg *model.Config, idx *membership.Index) []*policy.Ruleset {
	points := []policy.Point{{}}
	for _, g := range cfg.Gateways() {
		points = append(points, policy.Point{Gateway: g})
	}
	out := make([]*policy.Ruleset, 0, len(points))
	for _, pt := range points {
		out = append(out, policy.Compile(cfg, idx, pt))
	}
	return out
}

// RuleFindings runs the exact shadowing and redundancy analysis on
// compiled rulesets.
func RuleFindings(rulesets []*policy.Ruleset, opt reach.Options) []Finding {
	var out []Finding
	reported := map[string]bool{}
	for _, rs := range rulesets {
		gw := rs.Point.Gateway
		where := "the distributed firewall"
		if gw != "" {
			where = "the gateway firewall of " + gw
		}
		fs, err := reach.Analyze(rs, opt)
		if err != nil {
			out = append(out, Finding{Code: CodeTooComplex, Severity: Info, Objects: []string{orDFW(gw)},
				Message: fmt.Sprintf("shadowed and redundant rules of %s were not analysed: %v", where, err),
				Fix:     "analyse a smaller policy set, or raise the analysis budget (Options of package reach)"})
			continue
		}
		for _, f := range fs {
			key := string(f.Kind) + f.Rule
			if reported[key] {
				continue
			}
			reported[key] = true
			switch {
			case f.Kind == reach.Shadowed && len(f.By) == 0:
				out = append(out, Finding{Code: CodeShadowed, Severity: Warning, Objects: []string{f.Rule},
					Message: fmt.Sprintf("rule %s in %s matches no flow at all (its sources, destinations, services and IP protocol leave nothing; for example an IPv4-only rule naming only IPv6 addresses, or a group that is empty), so it never applies", f.Rule, where),
					Fix:     "check the rule's groups, services and ip_protocol; delete it if it is not needed"})
			case f.Kind == reach.Shadowed:
				out = append(out, Finding{Code: CodeShadowed, Severity: Warning, Objects: append([]string{f.Rule}, f.By...),
					Message: fmt.Sprintf("rule %s in %s is shadowed: every flow it matches is decided earlier (or sent past it by a JUMP_TO_APPLICATION rule), by %s, so it never applies", f.Rule, where, strings.Join(f.By, ", ")),
					Fix:     "move it before the rules that shadow it, narrow those rules, or delete it"})
			case f.Kind == reach.Redundant:
				out = append(out, Finding{Code: CodeRedundant, Severity: Info, Objects: append([]string{f.Rule}, f.By...),
					Message: fmt.Sprintf("rule %s in %s is redundant: without it, every flow it decides gets the same verdict from %s (each redundant rule is judged with the others in place: remove one, then analyse again)", f.Rule, where, strings.Join(f.By, ", ")),
					Fix:     "delete it, unless it is there for its counters, its logging or to keep working when the later rules change"})
			}
		}
	}
	return out
}

func orDFW(gw string) string {
	if gw == "" {
		return "DFW"
	}
	return gw
}

// staleMembers reports groups holding members of clusters that are not
// Up: those members are kept (enforcement never flaps because a link
// dropped), but may be out of date.
func (a *advisor) staleMembers() {
	if a.in.ClusterStatus == nil {
		return
	}
	for _, p := range a.idx.Groups() {
		bad := map[string]string{}
		for _, m := range a.idx.Members(p) {
			if m.Key.Cluster == inventory.VMCluster {
				continue
			}
			if st, ok := a.in.ClusterStatus(m.Key.Cluster); ok && st != "Up" {
				bad[m.Key.Cluster] = st
			}
		}
		if len(bad) == 0 {
			continue
		}
		var names []string
		for c, st := range bad {
			names = append(names, c+" ("+st+")")
		}
		sort.Strings(names)
		a.add(Finding{Code: CodeStaleMembers, Severity: Warning, Objects: []string{p},
			Message: fmt.Sprintf("group %s has members from clusters that are not Up: %s; they stay in the group but may be out of date", p, strings.Join(names, ", ")),
			Fix:     "check those clusters' adapters (kordon cluster show NAME), or deregister a cluster that is gone"})
	}
}
