package trace

import (
	"fmt"
	"net/netip"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/explain"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

// Members is what deciding flows needs from the membership engine.
type Members = policy.Members

// Firewalls decides flows at the enforcement points a trace crosses,
// compiling each ruleset once.
type Firewalls struct {
	cfg *model.Config
	m   Members
	gw  map[string]*policy.Ruleset
	vm  map[vmPoint]*policy.Ruleset
}

// vmPoint is the DFW at one VM address, in one direction.
type vmPoint struct {
	addr netip.Addr
	dir  policy.Direction
}

// NewFirewalls prepares decisions over a validated configuration and
// its memberships.
func NewFirewalls(cfg *model.Config, m Members) *Firewalls {
	return &Firewalls{cfg: cfg, m: m, gw: map[string]*policy.Ruleset{}, vm: map[vmPoint]*policy.Ruleset{}}
}

// Gateways returns the tier-0 and tier-1 paths of the configuration in
// the default space, sorted: the gateways a flow may cross when the
// caller names none.
func (fw *Firewalls) Gateways() []string { return fw.cfg.Gateways() }

// CheckGateway validates a gateway path given by a user.
func (fw *Firewalls) CheckGateway(p string) error {
	r, err := model.ParsePath(p)
	if _, ok := fw.cfg.Object(p); err != nil || !ok || (r.Kind != model.KindTier0 && r.Kind != model.KindTier1) {
		return fmt.Errorf("gateway: %s is not an existing tier-0 or tier-1", p)
	}
	return nil
}

// Gateway decides a flow with a gateway's firewall.
func (fw *Firewalls) Gateway(path string, f policy.Flow) explain.Report {
	rs, ok := fw.gw[path]
	if !ok {
		rs = policy.Compile(fw.cfg, fw.m, policy.Point{Gateway: path})
		fw.gw[path] = rs
	}
	return explain.Explain(rs, fw.m, f)
}

// VM decides a flow with the distributed firewall at the VM whose
// address is vm (the flow's destination for In, its source for Out):
// the rules whose Applied To groups hold that address, in that
// direction.
func (fw *Firewalls) VM(vm netip.Addr, dir policy.Direction, f policy.Flow) explain.Report {
	rs, ok := fw.vm[vmPoint{vm, dir}]
	if !ok {
		pt := policy.Point{Direction: dir, AppliedTo: func(scope []string) bool {
			for _, g := range scope {
				if set := fw.m.IPSet(g); set != nil && set.Contains(vm) {
					return true
				}
			}
			return false
		}}
		rs = policy.Compile(fw.cfg, fw.m, pt)
		fw.vm[vmPoint{vm, dir}] = rs
	}
	rep := explain.Explain(rs, fw.m, f)
	side := "destination"
	if dir == policy.Out {
		side = "source"
	}
	rep.Assumption = fmt.Sprintf("the DFW is evaluated at the VM with address %s (the flow's %s), direction %s: rules applied to ANY, or to groups holding %s", vm, side, dir, vm)
	return rep
}

// Hop is one way a flow can cross the boundary, and what each firewall
// on its path decides.
type Hop struct {
	Flow     explain.Flow     `json:"flow"`
	Source   *Source          `json:"source,omitempty"`
	Entry    *Entry           `json:"entry,omitempty"`
	Gateways []explain.Report `json:"gateway_firewall"`
	DFW      explain.Report   `json:"distributed_firewall"`
	// Verdict is what reaches the destination: ALLOW only when every
	// firewall on the path allows.
	Verdict string `json:"verdict"`
}

// OutboundRequest asks how a pod's traffic reaches an address.
type OutboundRequest struct {
	Pod      string `json:"from_pod"`
	To       string `json:"to"`
	Protocol string `json:"protocol,omitempty"`
	Port     uint16 `json:"port,omitempty"`
	SrcPort  uint16 `json:"src_port,omitempty"`
	Gateway  string `json:"gateway,omitempty"`
}

// Outbound is the trace of a pod's traffic to an address outside its
// cluster.
type Outbound struct {
	Direction string `json:"direction"`
	Exit      Exit   `json:"exit"`
	Hops      []Hop  `json:"hops"`
	// Gateways are the gateways evaluated: the one asked for, else every
	// tier-0 and tier-1 of the configuration.
	Gateways []string `json:"gateways_evaluated"`
	Notes    []string `json:"notes,omitempty"`
}

// TraceOutbound traces a pod's traffic to an address: the source address
// firewalls see, then the gateway firewall and the DFW at the
// destination VM for each.
func TraceOutbound(inv Inventory, fw *Firewalls, q OutboundRequest) (Outbound, error) {
	key, err := ParsePodRef(q.Pod)
	if err != nil {
		return Outbound{}, fmt.Errorf("from_pod: %v", err)
	}
	dst, err := netip.ParseAddr(q.To)
	if err != nil {
		return Outbound{}, fmt.Errorf("to: %q is not an IP address", q.To)
	}
	dst = dst.Unmap()
	gws, err := gatewaysFor(fw, q.Gateway)
	if err != nil {
		return Outbound{}, err
	}
	// Validate the flow's protocol and port once, with a placeholder
	// source of the right family.
	placeholder := netip.IPv4Unspecified()
	if !dst.Is4() {
		placeholder = netip.IPv6Unspecified()
	}
	if _, err := flowOf(placeholder, dst, q.Protocol, q.Port, q.SrcPort); err != nil {
		return Outbound{}, err
	}
	ex, err := PodExit(inv, key, dst.Is4())
	if err != nil {
		return Outbound{}, fmt.Errorf("from_pod: %v", err)
	}
	out := Outbound{Direction: "cluster-to-VM", Exit: ex, Hops: []Hop{}, Gateways: gws}
	for i := range ex.Sources {
		s := ex.Sources[i]
		f, _ := flowOf(s.Address, dst, q.Protocol, q.Port, q.SrcPort)
		h := Hop{Flow: explain.FlowOf(f), Source: &s, Gateways: []explain.Report{}}
		for _, g := range gws {
			h.Gateways = append(h.Gateways, fw.Gateway(g, f))
		}
		h.DFW = fw.VM(dst, policy.In, f)
		h.Verdict = pathVerdict(h, false)
		out.Hops = append(out.Hops, h)
	}
	out.Notes = append(out.Notes, crossingNote(q.Gateway, gws)...)
	if len(gws) == 0 {
		out.Notes = append(out.Notes, "the configuration has no tier-0 or tier-1 gateway, so no gateway firewall is on the path")
	}
	if len(ex.Sources) > 0 && dstInCluster(inv, key.Cluster, dst) {
		out.Notes = append(out.Notes, fmt.Sprintf("%s is an address of cluster %s itself: traffic to it stays inside the cluster and is not SNATed as traced here", dst, key.Cluster))
	}
	return out, nil
}

// InboundRequest asks how traffic from an address reaches a Service,
// Ingress or Gateway.
type InboundRequest struct {
	From      string `json:"from"`
	ToService string `json:"to_service,omitempty"`
	ToIngress string `json:"to_ingress,omitempty"`
	ToGateway string `json:"to_gateway,omitempty"`
	Gateway   string `json:"gateway,omitempty"`
}

// Inbound is the trace of traffic from a VM into a cluster object.
type Inbound struct {
	Direction string `json:"direction"`
	Target    string `json:"target"`
	// Entries lists every way in, of every address family.
	Entries []Entry `json:"entries"`
	// Hops decides the entries of the source's address family.
	Hops []Hop `json:"hops"`
	// Unreachable says why the object cannot be reached from outside,
	// when it cannot (or why some ways in are missing).
	Unreachable string   `json:"unreachable,omitempty"`
	Gateways    []string `json:"gateways_evaluated"`
	Notes       []string `json:"notes,omitempty"`
}

// TraceInbound traces traffic from an address to every way into a
// Service, Ingress or Gateway, deciding each with the DFW at the source
// VM and the gateway firewall.
func TraceInbound(inv Inventory, fw *Firewalls, q InboundRequest) (Inbound, error) {
	src, err := netip.ParseAddr(q.From)
	if err != nil {
		return Inbound{}, fmt.Errorf("from: %q is not an IP address", q.From)
	}
	src = src.Unmap()
	var key inventory.Key
	n := 0
	for _, t := range []struct {
		ref  string
		kind inventory.Kind
		name string
	}{{q.ToService, inventory.KindService, "to_service"}, {q.ToIngress, inventory.KindIngress, "to_ingress"}, {q.ToGateway, inventory.KindGateway, "to_gateway"}} {
		if t.ref == "" {
			continue
		}
		n++
		if key, err = ParseTarget(t.kind, t.ref); err != nil {
			return Inbound{}, fmt.Errorf("%s: %v", t.name, err)
		}
	}
	if n != 1 {
		return Inbound{}, fmt.Errorf("exactly one of to_service, to_ingress and to_gateway is required")
	}
	gws, err := gatewaysFor(fw, q.Gateway)
	if err != nil {
		return Inbound{}, err
	}
	entries, why, err := Entries(inv, key)
	if err != nil {
		return Inbound{}, err
	}
	out := Inbound{Direction: "VM-to-cluster", Target: key.String(), Entries: entries, Hops: []Hop{}, Unreachable: why, Gateways: gws}
	if out.Entries == nil {
		out.Entries = []Entry{}
	}
	other := 0
	for i := range entries {
		e := entries[i]
		if e.Address.Is4() != src.Is4() {
			other++
			continue
		}
		f, ferr := flowOf(src, e.Address, e.Protocol.String(), e.Port, 0)
		if ferr != nil {
			continue // a protocol without ports cannot carry a port entry
		}
		h := Hop{Flow: explain.FlowOf(f), Entry: &e, Gateways: []explain.Report{}}
		h.DFW = fw.VM(src, policy.Out, f)
		for _, g := range gws {
			h.Gateways = append(h.Gateways, fw.Gateway(g, f))
		}
		h.Verdict = pathVerdict(h, true)
		out.Hops = append(out.Hops, h)
	}
	out.Notes = append(out.Notes, crossingNote(q.Gateway, gws)...)
	if other > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d way(s) in are of the other address family than %s and are listed but not decided", other, src))
	}
	if len(gws) == 0 {
		out.Notes = append(out.Notes, "the configuration has no tier-0 or tier-1 gateway, so no gateway firewall is on the path")
	}
	return out, nil
}

func gatewaysFor(fw *Firewalls, gw string) ([]string, error) {
	if gw == "" {
		return fw.Gateways(), nil
	}
	if err := fw.CheckGateway(gw); err != nil {
		return nil, err
	}
	return []string{gw}, nil
}

func flowOf(src, dst netip.Addr, proto string, port, srcPort uint16) (policy.Flow, error) {
	return explain.Request{Src: src.String(), Dst: dst.String(), Protocol: proto, Port: port, SrcPort: srcPort}.Flow()
}

// pathVerdict is the first refusal on the path, in path order: leaving
// a cluster the gateways come first, leaving a VM its DFW does.
func pathVerdict(h Hop, dfwFirst bool) string {
	path := append([]explain.Report(nil), h.Gateways...)
	if dfwFirst {
		path = append([]explain.Report{h.DFW}, path...)
	} else {
		path = append(path, h.DFW)
	}
	for _, r := range path {
		if r.Verdict != policy.Allow.String() {
			return r.Verdict
		}
	}
	return policy.Allow.String()
}

func crossingNote(q string, gws []string) []string {
	if q == "" && len(gws) > 1 {
		return []string{"no --gateway was named, so every gateway is decided and the verdict assumes the flow crosses all of them; name the gateway on the path for an exact verdict"}
	}
	return nil
}

// dstInCluster reports whether an address belongs to the cluster's own
// nodes or pod CIDRs.
func dstInCluster(inv Inventory, cluster string, a netip.Addr) bool {
	var b netipx.IPSetBuilder
	for _, o := range inv.Objects(cluster, inventory.KindNode) {
		n := o.(*inventory.Node)
		for _, ip := range n.InternalIPs {
			b.Add(ip)
		}
		for _, p := range n.PodCIDRs {
			b.AddPrefix(p)
		}
	}
	s, _ := b.IPSet()
	return s != nil && s.Contains(a)
}
