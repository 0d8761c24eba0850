package membership

import (
	"sort"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/model"
)

// Content is what a group holds: its member objects (including those of
// included groups), address items and address+port members.
type Content struct {
	Members []Member
	Ranges  []netipx.IPRange
	IPPorts []address.IPPort
}

// Content returns what the group at path holds now.
func (x *Index) Content(path string) Content {
	return Content{Members: x.Members(path), Ranges: x.Ranges(path), IPPorts: x.IPPorts(path)}
}

// Preview returns what groups would hold if defs were applied (a nil
// definition deletes the group), without changing the index: the groups
// in defs and every group that includes one of them. It is how a dry run
// shows membership changes.
func (x *Index) Preview(defs map[string]*model.Group) (map[string]Content, error) {
	p := &previewer{x: x, defs: map[string]*definition{}, deleted: map[string]bool{}, out: map[string]*content{}}
	for path, g := range defs {
		if g == nil {
			p.deleted[path] = true
			continue
		}
		d, err := compile(g)
		if err != nil {
			return nil, err
		}
		p.defs[path] = d
	}
	affected := p.affected(defs)
	res := make(map[string]Content, len(affected))
	for path := range affected {
		c := p.content(path, map[string]bool{})
		res[path] = c.export(x)
	}
	return res, nil
}

type previewer struct {
	x       *Index
	defs    map[string]*definition
	deleted map[string]bool
	out     map[string]*content
}

// content is a group's content while previewing: sets keyed for dedup.
type content struct {
	members map[member]bool
	ranges  map[netipx.IPRange]bool
	ipPorts map[address.IPPort]bool
	ports   map[*cluster]map[address.ProtoPort]bool
}

func newContent() *content {
	return &content{members: map[member]bool{}, ranges: map[netipx.IPRange]bool{}, ipPorts: map[address.IPPort]bool{}, ports: map[*cluster]map[address.ProtoPort]bool{}}
}

// children returns the groups a group includes after the change.
func (p *previewer) children(path string) []string {
	if p.deleted[path] {
		return nil
	}
	if d, ok := p.defs[path]; ok {
		return d.nested
	}
	var out []string
	if g := p.x.groups[path]; g != nil {
		for _, c := range g.children {
			out = append(out, c.path)
		}
	}
	return out
}

// affected returns the changed groups and every group that includes one,
// transitively, after the change.
func (p *previewer) affected(defs map[string]*model.Group) map[string]bool {
	all := map[string]bool{}
	for path := range p.x.groups {
		all[path] = true
	}
	for path := range defs {
		all[path] = true
	}
	out := map[string]bool{}
	for path := range defs {
		out[path] = true
	}
	for changed := true; changed; {
		changed = false
		for path := range all {
			if out[path] {
				continue
			}
			for _, c := range p.children(path) {
				if out[c] {
					out[path], changed = true, true
					break
				}
			}
		}
	}
	return out
}

func (p *previewer) content(path string, visiting map[string]bool) *content {
	if c, ok := p.out[path]; ok {
		return c
	}
	c := newContent()
	p.out[path] = c
	if visiting[path] || p.deleted[path] {
		return c
	}
	visiting[path] = true
	defer delete(visiting, path)
	g := p.x.groups[path]
	d, redefined := p.defs[path]
	switch {
	case redefined:
		p.evaluate(d, c)
	case g != nil:
		for m := range g.members {
			c.members[m] = true
			p.addContrib(c, m.e, &m.e.contrib[m.e.typeIndex(m.mt)])
		}
		if g.def != nil {
			d = g.def
		}
	}
	if d != nil {
		for _, r := range d.static {
			c.ranges[r] = true
		}
	}
	for _, child := range p.children(path) {
		cc := p.content(child, visiting)
		for m := range cc.members {
			c.members[m] = true
		}
		for r := range cc.ranges {
			c.ranges[r] = true
		}
		for m := range cc.ipPorts {
			c.ipPorts[m] = true
		}
		for cl, pm := range cc.ports {
			for pp := range pm {
				c.addPort(cl, pp)
			}
		}
	}
	return c
}

// evaluate finds the objects a new definition selects, as reevalGroup
// does for a real group.
func (p *previewer) evaluate(d *definition, c *content) {
	seen := map[*entity]struct{}{}
	for i := range d.crit {
		for _, k := range d.crit[i].anchors {
			for _, cl := range p.x.clusters {
				if k.cluster != "" && k.cluster != cl.lname {
					continue
				}
				ck := k
				ck.cluster = cl.lname
				for _, e := range p.x.objs[ck] {
					seen[e] = struct{}{}
				}
				if k.kind == akName {
					p.x.entitiesNamed(cl, k.mt, k.a, seen)
				}
			}
		}
	}
	for e := range seen {
		for i, mt := range e.types {
			if d.matches(e, mt) {
				c.members[member{e, mt}] = true
				p.addContrib(c, e, &e.contrib[i])
			}
		}
	}
}

func (p *previewer) addContrib(c *content, e *entity, k *contribution) {
	for _, r := range k.ranges {
		c.ranges[r] = true
	}
	for _, m := range k.ipPorts {
		c.ipPorts[m] = true
	}
	for _, pp := range k.ports {
		c.addPort(e.cl, pp)
	}
}

func (c *content) addPort(cl *cluster, pp address.ProtoPort) {
	pm := c.ports[cl]
	if pm == nil {
		pm = map[address.ProtoPort]bool{}
		c.ports[cl] = pm
	}
	pm[pp] = true
}

func (c *content) export(x *Index) Content {
	var out Content
	for m := range c.members {
		out.Members = append(out.Members, toMember(m))
	}
	sortMembers(out.Members)
	for r := range c.ranges {
		out.Ranges = append(out.Ranges, r)
	}
	sort.Slice(out.Ranges, func(i, j int) bool { return rangeLess(out.Ranges[i], out.Ranges[j]) })
	set := map[address.IPPort]bool{}
	for m := range c.ipPorts {
		set[m] = true
	}
	for cl, pm := range c.ports {
		for a := range cl.nodeIPs {
			for pp := range pm {
				if pp.On(a) {
					set[pp.At(a)] = true
				}
			}
		}
	}
	for m := range set {
		out.IPPorts = append(out.IPPorts, m)
	}
	sort.Slice(out.IPPorts, func(i, j int) bool { return out.IPPorts[i].Less(out.IPPorts[j]) })
	return out
}
