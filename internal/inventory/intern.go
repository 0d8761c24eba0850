package inventory

import (
	"maps"
	"slices"
	"strings"
)

// interner lets the objects of a dump share equal strings and equal
// label maps. A cluster's pods mostly repeat a few label sets, namespaces
// and node names; decoded one object at a time each would hold its own
// copies, which at 339,000 objects were a third of the memory the loaded
// dump kept. A shared map must not be changed: Dump's doc says so.
type interner struct {
	strs map[string]string
	maps map[string]map[string]string
	key  strings.Builder
}

func (in *interner) str(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	if in.strs == nil {
		in.strs = map[string]string{}
	}
	in.strs[s] = s
	return s
}

// labels returns the first map seen with m's content.
func (in *interner) labels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	in.key.Reset()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		// Two maps may give one key (a key or value holding NUL); the
		// content is compared before a map is shared.
		in.key.WriteString(k)
		in.key.WriteByte(0)
		in.key.WriteString(m[k])
		in.key.WriteByte(0)
	}
	if v, ok := in.maps[in.key.String()]; ok && maps.Equal(v, m) {
		return v
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[in.str(k)] = in.str(v)
	}
	if in.maps == nil {
		in.maps = map[string]map[string]string{}
	}
	in.maps[in.key.String()] = out
	return out
}

// object makes o share what it can with the objects before it.
func (in *interner) object(o Object) {
	m := o.GetMeta()
	m.Namespace, m.ResourceVersion, m.Labels = in.str(m.Namespace), in.str(m.ResourceVersion), in.labels(m.Labels)
	switch x := o.(type) {
	case *Pod:
		x.NodeName = in.str(x.NodeName)
		for i := range x.IPPools {
			x.IPPools[i] = in.str(x.IPPools[i])
		}
		for i := range x.NamedPorts {
			x.NamedPorts[i].Name = in.str(x.NamedPorts[i].Name)
		}
	case *Service:
		x.Selector = in.labels(x.Selector)
		for i := range x.Ports {
			x.Ports[i].Name, x.Ports[i].TargetPortName = in.str(x.Ports[i].Name), in.str(x.Ports[i].TargetPortName)
		}
	case *Egress:
		x.EgressNode = in.str(x.EgressNode)
	}
}

// Interner makes objects decoded one at a time (a manager loading its
// stored inventory) share equal strings and label maps, as a dump's
// objects do. The maps it shares must not be changed. It grows with
// what it has seen: keep one for a load, not for a process's life.
type Interner struct{ in interner }

// Share makes o share what it can with the objects shared before it.
func (i *Interner) Share(o Object) { i.in.object(o) }
