package membership

import (
	"net/netip"
	"sort"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
)

func toMember(m member) Member {
	k := kinds[m.mt]
	return Member{Type: k.Type.Name, ConditionKey: k.Key, Key: m.e.key}
}

func sortMembers(l []Member) {
	sort.Slice(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.ConditionKey != b.ConditionKey {
			return a.ConditionKey < b.ConditionKey
		}
		return a.Key.String() < b.Key.String()
	})
}

// Defined reports whether a group is defined at path.
func (x *Index) Defined(path string) bool {
	g := x.groups[path]
	return g != nil && g.def != nil
}

// Groups returns the paths of the defined groups, sorted.
func (x *Index) Groups() []string {
	out := make([]string, 0, len(x.groups))
	for p, g := range x.groups {
		if g.def != nil {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Members returns the inventory objects in the group, including those of
// the groups it includes, sorted.
func (x *Index) Members(path string) []Member {
	g := x.groups[path]
	if g == nil {
		return nil
	}
	seen := map[member]bool{}
	var out []Member
	var walk func(g *group, visited map[*group]bool)
	walk = func(g *group, visited map[*group]bool) {
		if visited[g] {
			return
		}
		visited[g] = true
		for m := range g.members {
			if !seen[m] {
				seen[m] = true
				out = append(out, toMember(m))
			}
		}
		for _, c := range g.children {
			walk(c, visited)
		}
	}
	walk(g, map[*group]bool{})
	sortMembers(out)
	return out
}

// Ranges returns the group's address items as its sources provide them
// (not merged: an IP inside a pool range is listed on its own), sorted.
func (x *Index) Ranges(path string) []netipx.IPRange {
	g := x.groups[path]
	if g == nil {
		return nil
	}
	out := make([]netipx.IPRange, 0, len(g.ranges))
	for r := range g.ranges {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return rangeLess(out[i], out[j]) })
	return out
}

// Addresses returns the group's addresses merged into the fewest
// non-overlapping ranges, IPv4 first.
func (x *Index) Addresses(path string) []netipx.IPRange {
	return address.Merge(x.Ranges(path))
}

// IPSet returns the group's addresses as a set.
func (x *Index) IPSet(path string) *netipx.IPSet {
	var b netipx.IPSetBuilder
	if g := x.groups[path]; g != nil {
		for r := range g.ranges {
			b.AddRange(r)
		}
	}
	s, _ := b.IPSet()
	return s
}

// IPPorts returns every address+port member of the group: NodePortLocal
// endpoints and node ports on every node IP of their cluster, sorted.
func (x *Index) IPPorts(path string) []address.IPPort {
	g := x.groups[path]
	if g == nil {
		return nil
	}
	set := make(map[address.IPPort]struct{}, len(g.ipPorts))
	for m := range g.ipPorts {
		set[m] = struct{}{}
	}
	for c, pm := range g.ports {
		for a := range c.nodeIPs {
			for pp := range pm {
				if pp.On(a) {
					set[pp.At(a)] = struct{}{}
				}
			}
		}
	}
	out := make([]address.IPPort, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// HasIPPort reports whether the group holds the address+port member m.
func (x *Index) HasIPPort(path string, m address.IPPort) bool {
	g := x.groups[path]
	return g != nil && x.has(g, m)
}

// Object returns an inventory object by key.
func (x *Index) Object(k inventory.Key) (inventory.Object, bool) {
	switch k.Kind {
	case inventory.KindPod:
		if c := x.clusters[k.Cluster]; c != nil {
			if ns := c.namespaces[k.Namespace]; ns != nil {
				if p, ok := ns.pods[k.Name]; ok {
					return p, true
				}
			}
		}
		return nil, false
	case inventory.KindNamespace, inventory.KindExternalIPPool:
		o, ok := x.others[k]
		return o, ok
	}
	if e := x.entities[k]; e != nil {
		return e.obj, true
	}
	return nil, false
}

// Objects returns the objects of a kind in a cluster ("" for all
// clusters), sorted by key.
func (x *Index) Objects(cluster string, kind inventory.Kind) []inventory.Object {
	var out []inventory.Object
	for name, c := range x.clusters {
		if cluster != "" && name != cluster {
			continue
		}
		for _, k := range x.clusterKeys(c) {
			if k.Kind == kind {
				o, _ := x.Object(k)
				out = append(out, o)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return inventory.KeyOf(out[i]).String() < inventory.KeyOf(out[j]).String()
	})
	return out
}

// KindCounts counts a cluster's objects by kind.
func (x *Index) KindCounts(cluster string) map[inventory.Kind]int {
	out := map[inventory.Kind]int{}
	c := x.clusters[cluster]
	if c == nil {
		return out
	}
	for e := range c.entities {
		out[e.key.Kind]++
	}
	for _, ns := range c.namespaces {
		if n := len(ns.pods); n > 0 {
			out[inventory.KindPod] += n
		}
	}
	for k := range x.others {
		if k.Cluster == cluster {
			out[k.Kind]++
		}
	}
	return out
}

// Clusters returns the names of the clusters the index holds objects of.
func (x *Index) Clusters() []string {
	out := make([]string, 0, len(x.clusters))
	for n := range x.clusters {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// NodeIPs returns the InternalIPs of a cluster's nodes, sorted.
func (x *Index) NodeIPs(cluster string) []netip.Addr {
	c := x.clusters[cluster]
	if c == nil {
		return nil
	}
	out := c.nodeIPList()
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// Stats counts what the index holds.
type Stats struct {
	Clusters, Objects, Entities, Groups, Anchors int
}

// Stats returns counts of what the index holds.
func (x *Index) Stats() Stats {
	pods := 0
	for _, c := range x.clusters {
		for _, ns := range c.namespaces {
			pods += len(ns.pods)
		}
	}
	return Stats{Clusters: len(x.clusters), Objects: len(x.entities) + len(x.others) + pods, Entities: len(x.entities), Groups: len(x.Groups()), Anchors: len(x.crits)}
}

// Has reports whether the index holds an object.
func (x *Index) Has(k inventory.Key) bool {
	_, ok := x.Object(k)
	return ok
}

// ClusterObjects counts the objects of a cluster.
func (x *Index) ClusterObjects(cluster string) int {
	c := x.clusters[cluster]
	if c == nil {
		return 0
	}
	n := len(c.entities)
	for _, ns := range c.namespaces {
		n += len(ns.pods)
	}
	for k := range x.others {
		if k.Cluster == cluster {
			n++
		}
	}
	return n
}
