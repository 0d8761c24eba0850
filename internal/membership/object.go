package membership

import (
	"sort"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
)

// ObjectUse is what one inventory object means to groups: the member types
// it can be, the addresses each contributes when a group selects it as
// that type, and the groups it is in.
type ObjectUse struct {
	Contributions []Contribution
	// Groups are the groups holding the object, directly or through a
	// group that includes one that does, sorted; Direct the ones whose
	// own criteria select it.
	Groups []string
	Direct []string
}

// Contribution is what an object adds to a group as one member type.
type Contribution struct {
	MemberType   string
	ConditionKey string
	Addresses    []netipx.IPRange
	IPPorts      []address.IPPort
}

// Use returns what the object with key k means to groups. Objects that are
// no member type's (pods, namespaces, pools) contribute nothing and are in
// no group as themselves.
func (x *Index) Use(k inventory.Key) ObjectUse {
	var out ObjectUse
	e := x.entities[k]
	if e == nil {
		return out
	}
	for i, mt := range e.types {
		c := e.contrib[i]
		kind := kinds[mt]
		ipPorts := append([]address.IPPort(nil), c.ipPorts...)
		// Node ports are on every node address of the cluster, as a
		// group's members have them (IPPorts).
		if len(c.ports) > 0 && e.cl != nil {
			for _, a := range e.cl.nodeIPList() {
				for _, pp := range c.ports {
					if pp.On(a) {
						ipPorts = append(ipPorts, pp.At(a))
					}
				}
			}
		}
		sort.Slice(ipPorts, func(i, j int) bool { return ipPorts[i].Less(ipPorts[j]) })
		out.Contributions = append(out.Contributions, Contribution{MemberType: kind.Type.Name, ConditionKey: kind.Key,
			Addresses: append([]netipx.IPRange(nil), c.ranges...), IPPorts: ipPorts})
	}
	seen := map[*group]bool{}
	var up func(g *group)
	up = func(g *group) {
		if seen[g] {
			return
		}
		seen[g] = true
		for p := range g.parents {
			up(p)
		}
	}
	for _, gb := range e.groups {
		if gb.g.def != nil {
			out.Direct = append(out.Direct, gb.g.path)
		}
		up(gb.g)
	}
	for g := range seen {
		if g.def != nil {
			out.Groups = append(out.Groups, g.path)
		}
	}
	sort.Strings(out.Direct)
	sort.Strings(out.Groups)
	return out
}
