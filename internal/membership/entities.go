package membership

import (
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

// Upsert adds or replaces an inventory object. Groups that select it (or
// selected it) are updated; so are NodePort members when a node's IPs
// change, NodePortLocal members when a pod changes, and namespace-scoped
// criteria when a namespace's labels change.
func (x *Index) Upsert(o inventory.Object) {
	key := inventory.KeyOf(o)
	c := x.clusterFor(key.Cluster)
	switch v := o.(type) {
	case *inventory.Pod:
		x.upsertPod(c, v)
	case *inventory.Namespace:
		x.others[key] = o
		x.upsertNamespace(c, v)
	case *inventory.ExternalIPPool:
		x.others[key] = o
	default:
		x.upsertEntity(c, key, o)
	}
}

// Delete removes an inventory object; deleting what is not there is a
// no-op.
func (x *Index) Delete(key inventory.Key) {
	o, ok := x.Object(key)
	if !ok {
		return
	}
	c := x.clusters[key.Cluster]
	switch v := o.(type) {
	case *inventory.Pod:
		x.deletePod(c, v)
	case *inventory.Namespace:
		delete(x.others, key)
		x.upsertNamespace(c, &inventory.Namespace{Meta: inventory.Meta{Cluster: key.Cluster, Name: key.Name}})
	case *inventory.ExternalIPPool:
		delete(x.others, key)
	default:
		x.deleteEntity(x.entities[key])
	}
}

// DeleteCluster removes every object of a cluster: its members leave every
// group in one batch.
func (x *Index) DeleteCluster(name string) {
	c := x.clusters[name]
	if c == nil {
		return
	}
	for e := range c.entities {
		x.deleteEntity(e)
	}
	for k := range x.others {
		if k.Cluster == name {
			delete(x.others, k)
		}
	}
	delete(x.clusters, name)
}

// clusterKeys returns the keys of every object the cluster holds.
func (x *Index) clusterKeys(c *cluster) []inventory.Key {
	var out []inventory.Key
	for e := range c.entities {
		out = append(out, e.key)
	}
	for _, ns := range c.namespaces {
		for _, p := range ns.pods {
			out = append(out, inventory.KeyOf(p))
		}
	}
	for k := range x.others {
		if k.Cluster == c.name {
			out = append(out, k)
		}
	}
	return out
}

// ReplaceCluster makes the cluster hold exactly objs: objects not in objs
// are deleted, the others upserted. It is how a full resynchronisation is
// applied without members flapping.
func (x *Index) ReplaceCluster(name string, objs []inventory.Object) {
	keep := make(map[inventory.Key]bool, len(objs))
	for _, o := range objs {
		keep[inventory.KeyOf(o)] = true
	}
	var stale []inventory.Key
	if c := x.clusters[name]; c != nil {
		for _, k := range x.clusterKeys(c) {
			if !keep[k] {
				stale = append(stale, k)
			}
		}
	}
	// Pods go first on removal and last on addition so NodePortLocal
	// services see a consistent set.
	slices.SortFunc(stale, func(a, b inventory.Key) int { return kindOrder(b.Kind) - kindOrder(a.Kind) })
	for _, k := range stale {
		x.Delete(k)
	}
	x.clusterFor(name)
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(a, b inventory.Object) int { return kindOrder(a.Kind()) - kindOrder(b.Kind()) })
	for _, o := range sorted {
		x.Upsert(o)
	}
}

// Load applies many objects and group definitions at once without
// recording deltas: it is a full computation (a manager starting, an
// offline run), and its result is read as a new snapshot, not as changes.
// Groups that cannot be compiled are reported together; the rest load.
func (x *Index) Load(objs []inventory.Object, groups map[string]*model.Group) error {
	if len(x.entities) == 0 {
		// Sized up front: growing it object by object costs more than
		// filling it.
		x.entities = make(map[inventory.Key]*entity, len(objs)/2)
	}
	x.quiet = true
	defer func() { x.quiet = false }()
	var errs []error
	for _, p := range model.Paths(groups) {
		if err := x.SetGroup(p, groups[p]); err != nil {
			errs = append(errs, err)
		}
	}
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(a, b inventory.Object) int { return kindOrder(a.Kind()) - kindOrder(b.Kind()) })
	for _, o := range sorted {
		x.Upsert(o)
	}
	clear(x.pending)
	return errors.Join(errs...)
}

// kindOrder loads namespaces and nodes before what depends on them.
func kindOrder(k inventory.Kind) int {
	switch k {
	case inventory.KindNamespace:
		return 0
	case inventory.KindNode:
		return 1
	case inventory.KindPod:
		return 3
	}
	return 2
}

// typesOf returns the member kinds an object of kind k is a member as;
// entities share the slice and must not change it.
func typesOf(k inventory.Kind) []memberType { return typesByKind[k] }

func (x *Index) upsertEntity(c *cluster, key inventory.Key, o inventory.Object) {
	e := x.entities[key]
	isNew := e == nil
	if isNew {
		types := typesOf(key.Kind)
		if types == nil {
			return
		}
		e = &entity{key: key, cl: c, types: types, contrib: make([]contribution, len(types)), lnamespace: strings.ToLower(key.Namespace)}
		x.entities[key] = e
		c.entities[e] = struct{}{}
		if key.Namespace != "" {
			e.ns = c.namespaceFor(key.Namespace)
			e.ns.entities[e] = struct{}{}
		}
	}
	m := o.GetMeta()
	name, tags := strings.ToLower(m.Name), x.tags(m.Labels)
	if vm, ok := o.(*inventory.VirtualMachine); ok {
		tags = vmTags(vm.Tags)
	}
	if isNew || name != e.name || !slices.Equal(tags, e.tags) {
		if !isNew {
			x.fileEntity(e, false)
		}
		e.name, e.tags = name, tags
		x.fileEntity(e, true)
	}
	var oldNode *inventory.Node
	if prev, ok := e.obj.(*inventory.Node); ok {
		oldNode = prev
	}
	e.obj = o
	if n, ok := o.(*inventory.Node); ok {
		x.nodeChanged(c, oldNode, n)
	}
	if s, ok := o.(*inventory.Service); ok && e.ns != nil {
		if s.NodePortLocal {
			e.ns.nplServices[e] = struct{}{}
		} else {
			delete(e.ns.nplServices, e)
		}
	}
	old := e.contrib
	e.contrib = make([]contribution, len(e.types))
	for i, mt := range e.types {
		e.contrib[i] = x.contribution(e, mt)
	}
	x.reevalEntity(e, old)
}

// nodeChanged moves the cluster's node-IP counts from a node's old
// InternalIPs to its new ones. Each node counts once per address, even if
// it lists an address twice.
func (x *Index) nodeChanged(c *cluster, old, cur *inventory.Node) {
	var before, after []netip.Addr
	if old != nil {
		before = uniqueAddrs(old.InternalIPs)
	}
	if cur != nil {
		after = uniqueAddrs(cur.InternalIPs)
	}
	var removed, added []netip.Addr
	for _, a := range before {
		if !slices.Contains(after, a) {
			removed = append(removed, a)
		}
	}
	for _, a := range after {
		if !slices.Contains(before, a) {
			added = append(added, a)
		}
	}
	x.setNodeIPs(c, removed, added)
}

// reevalEntity decides again every group e may belong to. old holds the
// contributions e had before this change (nil: unchanged).
func (x *Index) reevalEntity(e *entity, old []contribution) {
	x.gen++
	x.cands = x.cands[:0]
	for _, mt := range e.types {
		x.keys = e.keys(mt, e.cl.lname, true, x.keys[:0])
		x.keys = e.keys(mt, "", true, x.keys)
		for _, k := range x.keys {
			for g := range x.crits[k] {
				x.mark(g)
			}
		}
	}
	for _, gb := range e.groups {
		x.mark(gb.g)
	}
	cands := x.cands
	for _, g := range cands {
		for i, mt := range e.types {
			var o *contribution
			if old != nil {
				o = &old[i]
			}
			x.reeval(g, e, i, mt, o)
		}
	}
}

func (x *Index) mark(g *group) {
	if g.mark != x.gen {
		g.mark = x.gen
		x.cands = append(x.cands, g)
	}
}

// fileEntity adds (or removes) an entity to the object-side index.
// Kubernetes names are lower-case, so a name-anchored criterion finds an
// object by its key; the rare object whose name is not (a hand-written
// dump, say) is filed under its name too.
func (x *Index) fileEntity(e *entity, add bool) {
	oddName := strings.ToLower(e.key.Name) != e.key.Name
	for _, mt := range e.types {
		x.keys = e.keys(mt, e.cl.lname, oddName, x.keys[:0])
		for _, k := range x.keys {
			list := x.objs[k]
			if add {
				x.objs[k] = append(list, e)
				continue
			}
			if i := slices.Index(list, e); i >= 0 {
				list[i] = list[len(list)-1]
				list = list[:len(list)-1]
			}
			if len(list) == 0 {
				delete(x.objs, k)
			} else {
				x.objs[k] = list
			}
		}
	}
}

func (x *Index) deleteEntity(e *entity) {
	for _, gb := range slices.Clone(e.groups) {
		for _, mt := range e.types {
			if gb.bits&(1<<mt) != 0 {
				x.leave(gb.g, member{e, mt})
			}
		}
	}
	x.fileEntity(e, false)
	if n, ok := e.obj.(*inventory.Node); ok {
		x.nodeChanged(e.cl, n, nil)
	}
	if e.ns != nil {
		delete(e.ns.entities, e)
		delete(e.ns.nplServices, e)
	}
	delete(e.cl.entities, e)
	delete(x.entities, e.key)
}

func (x *Index) upsertNamespace(c *cluster, n *inventory.Namespace) {
	ns := c.namespaceFor(n.Name)
	tags := x.tags(n.Labels)
	if slices.Equal(tags, ns.tags) {
		return
	}
	ns.tags = tags
	for e := range ns.entities {
		x.reevalEntity(e, nil)
	}
}

func (x *Index) upsertPod(c *cluster, p *inventory.Pod) {
	ns := c.namespaceFor(p.Namespace)
	old := ns.pods[p.Name]
	ns.pods[p.Name] = p
	x.podChanged(ns, old, p)
}

func (x *Index) deletePod(c *cluster, p *inventory.Pod) {
	ns := c.namespaces[p.Namespace]
	if ns == nil {
		return
	}
	delete(ns.pods, p.Name)
	x.podChanged(ns, p, nil)
}

// podChanged updates the NodePortLocal members of the services that
// select the pod before or after its change. Only the pod's own mappings
// move: the cost does not depend on how many pods the service selects.
func (x *Index) podChanged(ns *namespace, old, cur *inventory.Pod) {
	for e := range ns.nplServices {
		s := e.obj.(*inventory.Service)
		before, after := nplMappings(s, old), nplMappings(s, cur)
		if slices.Equal(before, after) {
			continue
		}
		k := &e.contrib[0]
		for _, m := range after {
			k.ipPorts = insertSorted(k.ipPorts, m)
		}
		for _, m := range before {
			k.ipPorts = removeOne(k.ipPorts, m)
		}
		for _, gb := range e.groups {
			g := gb.g
			if gb.bits&(1<<mtService) == 0 {
				continue
			}
			for _, m := range after {
				x.adjIPPort(g, m, 1)
			}
			for _, m := range before {
				x.adjIPPort(g, m, -1)
			}
		}
	}
}

func uniqueAddrs(in []netip.Addr) []netip.Addr {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}

// selects reports whether a Service selector selects a pod's labels. A
// Service without a selector selects no pods.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// vmTags are a VM's NSX tags as the index keeps them: lower-cased, sorted
// by scope.
func vmTags(in []inventory.Tag) []tag {
	if len(in) == 0 {
		return nil
	}
	out := make([]tag, 0, len(in))
	for _, t := range in {
		out = append(out, tag{scope: strings.ToLower(t.Scope), value: strings.ToLower(t.Value)})
	}
	slices.SortFunc(out, func(a, b tag) int {
		if c := strings.Compare(a.scope, b.scope); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	return out
}
