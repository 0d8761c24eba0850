package membership

import (
	"net/netip"
	"sort"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
)

// pendingDelta accumulates one group's net changes until TakeDeltas.
type pendingDelta struct {
	members map[member]int8
	ranges  map[netipx.IPRange]int8
	ipPorts map[address.IPPort]int8
}

func (x *Index) record(g *group) *pendingDelta {
	p := x.pending[g]
	if p == nil {
		p = &pendingDelta{members: map[member]int8{}, ranges: map[netipx.IPRange]int8{}, ipPorts: map[address.IPPort]int8{}}
		x.pending[g] = p
	}
	return p
}

func bump[K comparable](m map[K]int8, k K, d int8) {
	if v := m[k] + d; v == 0 {
		delete(m, k)
	} else {
		m[k] = v
	}
}

func sign(n int32) int32 {
	if n > 0 {
		return 1
	}
	return -1
}

// adjRange changes how many sources provide r to g. When r appears in or
// disappears from g, the change is recorded and passed on to the groups
// that include g.
func (x *Index) adjRange(g *group, r netipx.IPRange, d int32) {
	old := g.ranges[r]
	n := max(old+d, 0)
	if n == 0 {
		delete(g.ranges, r)
	} else {
		g.ranges[r] = n
	}
	if (old == 0) == (n == 0) {
		return
	}
	s := sign(n - old)
	if !x.quiet {
		bump(x.record(g).ranges, r, int8(s))
	}
	for p, mult := range g.parents {
		x.adjRange(p, r, s*mult)
	}
}

// has reports whether g holds the address+port member m, either directly
// or as a node port of a cluster that has a node at m's address.
func (x *Index) has(g *group, m address.IPPort) bool {
	if g.ipPorts[m] > 0 {
		return true
	}
	if len(g.ports) == 0 {
		return false
	}
	fam := uint8(6)
	if m.Addr.Is4() {
		fam = 4
	}
	both, one := address.ProtoPort{Proto: m.Proto, Port: m.Port}, address.ProtoPort{Proto: m.Proto, Port: m.Port, Family: fam}
	for c := range x.nodeClusters[m.Addr] {
		if g.ports[c][both] > 0 || g.ports[c][one] > 0 {
			return true
		}
	}
	return false
}

func (x *Index) adjIPPort(g *group, m address.IPPort, d int32) {
	before := !x.quiet && x.has(g, m)
	old := g.ipPorts[m]
	n := max(old+d, 0)
	if n == 0 {
		delete(g.ipPorts, m)
	} else {
		g.ipPorts[m] = n
	}
	if (old == 0) != (n == 0) {
		s := sign(n - old)
		for p, mult := range g.parents {
			x.adjIPPort(p, m, s*mult)
		}
	}
	if x.quiet {
		return
	}
	if after := x.has(g, m); after != before {
		bump(x.record(g).ipPorts, m, boolSign(after))
	}
}

func boolSign(added bool) int8 {
	if added {
		return 1
	}
	return -1
}

// adjPort changes how many sources open node port pp on every node of
// cluster c in g.
func (x *Index) adjPort(g *group, c *cluster, pp address.ProtoPort, d int32) {
	var ips []netip.Addr
	if !x.quiet {
		ips = c.nodeIPList()
	}
	before := make([]bool, len(ips))
	for i, a := range ips {
		before[i] = pp.On(a) && x.has(g, pp.At(a))
	}
	pm := g.ports[c]
	if pm == nil {
		pm = map[address.ProtoPort]int32{}
		g.ports[c] = pm
	}
	old := pm[pp]
	n := max(old+d, 0)
	if n == 0 {
		delete(pm, pp)
	} else {
		pm[pp] = n
	}
	if len(pm) == 0 {
		delete(g.ports, c)
		delete(c.portGroups, g)
	} else {
		c.portGroups[g] = struct{}{}
	}
	if (old == 0) != (n == 0) {
		s := sign(n - old)
		for p, mult := range g.parents {
			x.adjPort(p, c, pp, s*mult)
		}
	}
	for i, a := range ips {
		m := pp.At(a)
		if !pp.On(a) {
			continue
		}
		if after := x.has(g, m); after != before[i] {
			bump(x.record(g).ipPorts, m, boolSign(after))
		}
	}
}

func (c *cluster) nodeIPList() []netip.Addr {
	out := make([]netip.Addr, 0, len(c.nodeIPs))
	for a := range c.nodeIPs {
		out = append(out, a)
	}
	return out
}

// addContrib adds (d = 1) or removes (d = -1) an entity's contribution.
func (x *Index) addContrib(g *group, c *cluster, k *contribution, d int32) {
	for _, r := range k.ranges {
		x.adjRange(g, r, d)
	}
	for _, m := range k.ipPorts {
		x.adjIPPort(g, m, d)
	}
	for _, pp := range k.ports {
		x.adjPort(g, c, pp, d)
	}
}

// setNodeIPs changes the InternalIPs cluster c has nodes at. NodePort
// members of c's groups follow: a new node IP adds (IP, port) members, a
// removed one removes them unless another source still provides them.
func (x *Index) setNodeIPs(c *cluster, removed, added []netip.Addr) {
	if len(removed) == 0 && len(added) == 0 {
		return
	}
	type probe struct {
		g      *group
		m      address.IPPort
		before bool
	}
	var probes []probe
	for g := range c.portGroups {
		if x.quiet {
			break
		}
		for pp := range g.ports[c] {
			for _, list := range [][]netip.Addr{removed, added} {
				for _, a := range list {
					if !pp.On(a) {
						continue
					}
					m := pp.At(a)
					probes = append(probes, probe{g, m, x.has(g, m)})
				}
			}
		}
	}
	for _, a := range removed {
		c.nodeIPs[a]--
		if c.nodeIPs[a] <= 0 {
			delete(c.nodeIPs, a)
			if cs := x.nodeClusters[a]; cs != nil {
				delete(cs, c)
				if len(cs) == 0 {
					delete(x.nodeClusters, a)
				}
			}
		}
	}
	for _, a := range added {
		c.nodeIPs[a]++
		cs := x.nodeClusters[a]
		if cs == nil {
			cs = map[*cluster]int32{}
			x.nodeClusters[a] = cs
		}
		cs[c] = 1
	}
	for _, p := range probes {
		if after := x.has(p.g, p.m); after != p.before {
			bump(x.record(p.g).ipPorts, p.m, boolSign(after))
		}
	}
}

// Member is an inventory object in a group. For KubernetesNode members,
// ConditionKey says whether the node counts with its IPs (IPAddress) or
// its pod CIDRs (PodCidr).
type Member struct {
	Type         string        `json:"member_type"`
	ConditionKey string        `json:"key,omitempty"`
	Key          inventory.Key `json:"object"`
}

// Delta is one group's net change over a batch of index changes.
type Delta struct {
	Group            string
	AddedMembers     []Member
	RemovedMembers   []Member
	AddedAddresses   []netipx.IPRange
	RemovedAddresses []netipx.IPRange
	AddedIPPorts     []address.IPPort
	RemovedIPPorts   []address.IPPort
}

// Empty reports whether the delta changes nothing.
func (d *Delta) Empty() bool {
	return len(d.AddedMembers)+len(d.RemovedMembers)+len(d.AddedAddresses)+len(d.RemovedAddresses)+len(d.AddedIPPorts)+len(d.RemovedIPPorts) == 0
}

// TakeDeltas returns the net change of every group since the last call,
// sorted by group path, and starts a new batch.
func (x *Index) TakeDeltas() []Delta {
	// A group deleted and defined again in one batch has two pending
	// records (one per incarnation); merge them by path.
	byPath := make(map[string]*pendingDelta, len(x.pending))
	for g, p := range x.pending {
		q := byPath[g.path]
		if q == nil {
			byPath[g.path] = p
			continue
		}
		for k, v := range p.members {
			bump(q.members, member{k.e, k.mt}, v)
		}
		for k, v := range p.ranges {
			bump(q.ranges, k, v)
		}
		for k, v := range p.ipPorts {
			bump(q.ipPorts, k, v)
		}
	}
	out := make([]Delta, 0, len(byPath))
	for path, p := range byPath {
		d := Delta{Group: path}
		for m, v := range p.members {
			if v > 0 {
				d.AddedMembers = append(d.AddedMembers, toMember(m))
			} else {
				d.RemovedMembers = append(d.RemovedMembers, toMember(m))
			}
		}
		for r, v := range p.ranges {
			if v > 0 {
				d.AddedAddresses = append(d.AddedAddresses, r)
			} else {
				d.RemovedAddresses = append(d.RemovedAddresses, r)
			}
		}
		for m, v := range p.ipPorts {
			if v > 0 {
				d.AddedIPPorts = append(d.AddedIPPorts, m)
			} else {
				d.RemovedIPPorts = append(d.RemovedIPPorts, m)
			}
		}
		if !d.Empty() {
			sortDelta(&d)
			out = append(out, d)
		}
	}
	clear(x.pending)
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

func sortDelta(d *Delta) {
	for _, l := range [][]Member{d.AddedMembers, d.RemovedMembers} {
		sortMembers(l)
	}
	for _, l := range [][]netipx.IPRange{d.AddedAddresses, d.RemovedAddresses} {
		sort.Slice(l, func(i, j int) bool { return rangeLess(l[i], l[j]) })
	}
	for _, l := range [][]address.IPPort{d.AddedIPPorts, d.RemovedIPPorts} {
		sort.Slice(l, func(i, j int) bool { return l[i].Less(l[j]) })
	}
}

func rangeLess(a, b netipx.IPRange) bool {
	if c := a.From().Compare(b.From()); c != 0 {
		return c < 0
	}
	return a.To().Less(b.To())
}
