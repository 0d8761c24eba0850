package membership

import (
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
)

// Index holds inventory objects and group definitions and keeps every
// group's members current. Changes are recorded as deltas until
// TakeDeltas collects them, so a batch of changes yields one net delta
// per group.
type Index struct {
	clusters map[string]*cluster
	entities map[inventory.Key]*entity
	// others holds the objects that are neither members nor pods
	// (namespaces, external IP pools); entities and namespaces hold the
	// rest.
	others map[inventory.Key]inventory.Object
	groups map[string]*group

	// crits files groups under their criteria's anchors (with a count,
	// since two criteria of a group may share one).
	crits map[anchorKey]map[*group]int32
	// objs files entities under the keys of their own cluster, so that a
	// new or changed group finds the objects it may select.
	objs map[anchorKey][]*entity
	// nodeClusters says which clusters have a node with an InternalIP,
	// for NodePort members (node IP x node port).
	nodeClusters map[netip.Addr]map[*cluster]int32

	pending map[*group]*pendingDelta
	// quiet suppresses delta recording during a bulk Load: a full
	// computation has no previous state to report changes against.
	quiet bool
	gen   uint64
	cands []*group
	// scopes interns the tag scope of each label key.
	scopes map[string]string
	keys   []anchorKey
}

// New returns an empty index.
func New() *Index {
	return &Index{
		clusters: map[string]*cluster{}, entities: map[inventory.Key]*entity{},
		others: map[inventory.Key]inventory.Object{}, groups: map[string]*group{},
		crits: map[anchorKey]map[*group]int32{}, objs: map[anchorKey][]*entity{},
		nodeClusters: map[netip.Addr]map[*cluster]int32{}, pending: map[*group]*pendingDelta{},
		scopes: map[string]string{},
	}
}

type cluster struct {
	name, lname string
	namespaces  map[string]*namespace
	entities    map[*entity]struct{}
	// nodeIPs counts the nodes that have each InternalIP.
	nodeIPs map[netip.Addr]int32
	// portGroups are the groups holding NodePort members of this cluster.
	portGroups map[*group]struct{}
}

type namespace struct {
	lname       string
	tags        []tag
	entities    map[*entity]struct{}
	pods        map[string]*inventory.Pod
	nplServices map[*entity]struct{}
}

// entity is an inventory object of a member kind (Service, Ingress,
// Gateway, Node, Egress, IPPool).
type entity struct {
	key        inventory.Key
	obj        inventory.Object
	cl         *cluster
	ns         *namespace
	name       string // lower-cased
	lnamespace string
	tags       []tag
	types      []memberType
	contrib    []contribution // one per types[i]
	// groups lists the groups the entity is in, with a bit per member
	// type it is in them as. Entities are in few groups, so a slice beats
	// a map.
	groups []groupBits
}

// attr returns a string attribute of the entity, lower-cased as names
// are; only VMs have attributes other than their name.
func (e *entity) attr(a attr) string {
	if a == attrName {
		return e.name
	}
	vm, ok := e.obj.(*inventory.VirtualMachine)
	if !ok {
		return ""
	}
	if a == attrOSName {
		return strings.ToLower(vm.OSName)
	}
	return strings.ToLower(vm.ComputerName)
}

type groupBits struct {
	g    *group
	bits memberBits
}

// bitsIn returns the member-type bits the entity has in g.
func (e *entity) bitsIn(g *group) memberBits {
	for _, gb := range e.groups {
		if gb.g == g {
			return gb.bits
		}
	}
	return 0
}

// setBits sets the member-type bits the entity has in g (0 removes it).
func (e *entity) setBits(g *group, bits memberBits) {
	for i := range e.groups {
		if e.groups[i].g != g {
			continue
		}
		if bits != 0 {
			e.groups[i].bits = bits
			return
		}
		last := len(e.groups) - 1
		e.groups[i] = e.groups[last]
		e.groups = e.groups[:last]
		return
	}
	if bits != 0 {
		e.groups = append(e.groups, groupBits{g, bits})
	}
}

func (e *entity) typeIndex(mt memberType) int {
	for i, t := range e.types {
		if t == mt {
			return i
		}
	}
	return -1
}

// contribution is what an entity adds to a group it is a member of:
// addresses, address+port members, and node ports (expanded over the
// cluster's node IPs).
type contribution struct {
	ranges  []netipx.IPRange
	ipPorts []address.IPPort
	ports   []address.ProtoPort
}

func (a contribution) equal(b contribution) bool {
	if len(a.ranges) != len(b.ranges) || len(a.ipPorts) != len(b.ipPorts) || len(a.ports) != len(b.ports) {
		return false
	}
	for i := range a.ranges {
		if a.ranges[i] != b.ranges[i] {
			return false
		}
	}
	for i := range a.ipPorts {
		if a.ipPorts[i] != b.ipPorts[i] {
			return false
		}
	}
	for i := range a.ports {
		if a.ports[i] != b.ports[i] {
			return false
		}
	}
	return true
}

type member struct {
	e  *entity
	mt memberType
}

type group struct {
	path     string
	def      *definition
	members  map[member]struct{}
	children []*group
	parents  map[*group]int32
	anchors  []anchorKey

	// Effective items, each counted once per source that provides it (a
	// member, the group's literal addresses, or an included group).
	ranges  map[netipx.IPRange]int32
	ipPorts map[address.IPPort]int32
	ports   map[*cluster]map[address.ProtoPort]int32

	mark uint64
}

func newGroup(path string) *group {
	return &group{
		path: path, members: map[member]struct{}{}, parents: map[*group]int32{},
		ranges: map[netipx.IPRange]int32{}, ipPorts: map[address.IPPort]int32{},
		ports: map[*cluster]map[address.ProtoPort]int32{},
	}
}

func (x *Index) clusterFor(name string) *cluster {
	c := x.clusters[name]
	if c == nil {
		c = &cluster{
			name: name, lname: strings.ToLower(name), namespaces: map[string]*namespace{},
			entities: map[*entity]struct{}{}, nodeIPs: map[netip.Addr]int32{}, portGroups: map[*group]struct{}{},
		}
		x.clusters[name] = c
	}
	return c
}

func (c *cluster) namespaceFor(name string) *namespace {
	ns := c.namespaces[name]
	if ns == nil {
		ns = &namespace{lname: strings.ToLower(name), entities: map[*entity]struct{}{}, pods: map[string]*inventory.Pod{}, nplServices: map[*entity]struct{}{}}
		c.namespaces[name] = ns
	}
	return ns
}

// tags returns an object's labels as lower-cased NSX tags, sorted by
// scope. Label keys repeat across objects, so their scopes are interned.
func (x *Index) tags(labels map[string]string) []tag {
	if len(labels) == 0 {
		return nil
	}
	out := make([]tag, 0, len(labels))
	for k, v := range labels {
		scope, ok := x.scopes[k]
		if !ok {
			scope = strings.ToLower(inventory.TagScopePrefix + k)
			x.scopes[k] = scope
		}
		out = append(out, tag{scope: scope, value: strings.ToLower(v)})
	}
	slices.SortFunc(out, func(a, b tag) int { return strings.Compare(a.scope, b.scope) })
	return out
}
