package membership

import (
	"fmt"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

// SetGroup defines or redefines the group at path. Objects the group now
// selects join it, objects it no longer selects leave, and the groups
// that include it follow. The group must have passed validation; an error
// (an expression kordon cannot compile, or an inclusion cycle) leaves the
// index unchanged.
func (x *Index) SetGroup(path string, g *model.Group) error {
	def, err := compile(g)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	grp := x.groupFor(path)
	children := make([]*group, 0, len(def.nested))
	for _, p := range def.nested {
		c := x.groupFor(p)
		if c == grp || x.reaches(c, grp) {
			x.dropIfUnused(c)
			x.dropIfUnused(grp)
			return fmt.Errorf("%s: including %s would make groups include each other in a cycle", path, p)
		}
		children = append(children, c)
	}
	old := grp.def
	x.fileGroup(grp, false)
	grp.def = def
	x.fileGroup(grp, true)
	x.reevalGroup(grp)
	for _, r := range def.static {
		x.adjRange(grp, r, 1)
	}
	if old != nil {
		for _, r := range old.static {
			x.adjRange(grp, r, -1)
		}
	}
	oldChildren := grp.children
	grp.children = children
	for _, c := range children {
		x.link(grp, c, 1)
	}
	for _, c := range oldChildren {
		x.link(grp, c, -1)
		x.dropIfUnused(c)
	}
	return nil
}

// DeleteGroup removes the group at path; its members leave it. A group
// still included by another keeps existing, empty, until it is defined
// again or no longer included.
func (x *Index) DeleteGroup(path string) {
	grp := x.groups[path]
	if grp == nil || grp.def == nil {
		return
	}
	x.fileGroup(grp, false)
	old := grp.def
	grp.def = nil
	for m := range grp.members {
		x.leave(grp, m)
	}
	for _, r := range old.static {
		x.adjRange(grp, r, -1)
	}
	for _, c := range grp.children {
		x.link(grp, c, -1)
		x.dropIfUnused(c)
	}
	grp.children = nil
	x.dropIfUnused(grp)
}

func (x *Index) groupFor(path string) *group {
	g := x.groups[path]
	if g == nil {
		g = newGroup(path)
		x.groups[path] = g
	}
	return g
}

// dropIfUnused forgets a placeholder: an undefined group nobody includes.
// Its pending delta stays, so the removal of its members is reported.
func (x *Index) dropIfUnused(g *group) {
	if g.def == nil && len(g.parents) == 0 {
		delete(x.groups, g.path)
	}
}

// reaches reports whether to is from or included by from, transitively.
func (x *Index) reaches(from, to *group) bool {
	if from == to {
		return true
	}
	for _, c := range from.children {
		if x.reaches(c, to) {
			return true
		}
	}
	return false
}

// link includes (d = 1) or excludes (d = -1) child's items in parent.
func (x *Index) link(parent, child *group, d int32) {
	if n := child.parents[parent] + d; n <= 0 {
		delete(child.parents, parent)
	} else {
		child.parents[parent] = n
	}
	for r := range child.ranges {
		x.adjRange(parent, r, d)
	}
	for m := range child.ipPorts {
		x.adjIPPort(parent, m, d)
	}
	for c, pm := range child.ports {
		for pp := range pm {
			x.adjPort(parent, c, pp, d)
		}
	}
}

// fileGroup adds (or removes) a group's criteria to the anchor index.
func (x *Index) fileGroup(g *group, add bool) {
	if !add {
		for _, k := range g.anchors {
			set := x.crits[k]
			if set[g]--; set[g] <= 0 {
				delete(set, g)
			}
			if len(set) == 0 {
				delete(x.crits, k)
			}
		}
		g.anchors = nil
		return
	}
	if g.def == nil {
		return
	}
	for i := range g.def.crit {
		for _, k := range g.def.crit[i].anchors {
			set := x.crits[k]
			if set == nil {
				set = map[*group]int32{}
				x.crits[k] = set
			}
			set[g]++
			g.anchors = append(g.anchors, k)
		}
	}
}

// reevalGroup re-tests every object the group holds or may select.
func (x *Index) reevalGroup(g *group) {
	seen := map[*entity]struct{}{}
	for m := range g.members {
		seen[m.e] = struct{}{}
	}
	for _, k := range g.anchors {
		for _, c := range x.clusters {
			if k.cluster != "" && k.cluster != c.lname {
				continue
			}
			ck := k
			ck.cluster = c.lname
			for _, e := range x.objs[ck] {
				seen[e] = struct{}{}
			}
			if k.kind == akName {
				x.entitiesNamed(c, k.mt, k.a, seen)
			}
		}
	}
	for e := range seen {
		for i, mt := range e.types {
			x.reeval(g, e, i, mt, nil)
		}
	}
}

// entitiesNamed adds the cluster's entities of a member type with a
// (lower-case) name.
func (x *Index) entitiesNamed(c *cluster, mt memberType, name string, seen map[*entity]struct{}) {
	kind := invKinds[mt]
	if !kind.Namespaced() {
		if e := x.entities[inventory.Key{Cluster: c.name, Kind: kind, Name: name}]; e != nil {
			seen[e] = struct{}{}
		}
		return
	}
	for ns := range c.namespaces {
		if e := x.entities[inventory.Key{Cluster: c.name, Kind: kind, Namespace: ns, Name: name}]; e != nil {
			seen[e] = struct{}{}
		}
	}
}

// reeval decides again whether entity e belongs to g as member type mt
// (the i-th of its types). old, when set, is the contribution e had
// before its latest change.
func (x *Index) reeval(g *group, e *entity, i int, mt memberType, old *contribution) {
	in := g.def != nil && g.def.matches(e, mt)
	bit := memberBits(1) << mt
	was := e.bitsIn(g)&bit != 0
	cur := &e.contrib[i]
	if old == nil {
		old = cur
	}
	switch {
	case in && !was:
		x.join(g, member{e, mt}, cur)
	case !in && was:
		x.leaveWith(g, member{e, mt}, old)
	case in && was && old != cur && !old.equal(*cur):
		x.addContrib(g, e.cl, cur, 1)
		x.addContrib(g, e.cl, old, -1)
	}
}

func (x *Index) join(g *group, m member, k *contribution) {
	g.members[m] = struct{}{}
	m.e.setBits(g, m.e.bitsIn(g)|1<<m.mt)
	if !x.quiet {
		bump(x.record(g).members, m, 1)
	}
	x.addContrib(g, m.e.cl, k, 1)
}

func (x *Index) leave(g *group, m member) {
	x.leaveWith(g, m, &m.e.contrib[m.e.typeIndex(m.mt)])
}

func (x *Index) leaveWith(g *group, m member, k *contribution) {
	delete(g.members, m)
	m.e.setBits(g, m.e.bitsIn(g)&^(1<<m.mt))
	if !x.quiet {
		bump(x.record(g).members, m, -1)
	}
	x.addContrib(g, m.e.cl, k, -1)
}
