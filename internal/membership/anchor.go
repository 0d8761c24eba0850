package membership

import "github.com/kordon-dev/kordon/internal/model"

// An anchor is an index key under which a criterion is filed so that an
// object change finds the groups it may affect without testing every
// group. A criterion is filed under its most selective condition; an
// object is looked up under every key it could match. If a group selects
// an object, one of its criteria matches it and so one of that
// criterion's anchors is among the object's keys: candidates are a
// superset of the groups to re-evaluate.
type anchorKind uint8

const (
	akName      anchorKind = iota // resource name EQUALS/IN
	akTag                         // resource tag scope|value EQUALS
	akTagAny                      // resource tag |value EQUALS
	akNamespace                   // namespace name EQUALS/IN
	akScan                        // nothing selective: every object of the type
)

type anchorKey struct {
	mt      memberType
	kind    anchorKind
	cluster string // lower-cased cluster name, or "" for any cluster
	a, b    string
}

// chooseAnchors picks the most selective indexable condition of a
// criterion: a resource name, then a resource tag, then a namespace name;
// otherwise the criterion is scanned for every object of its type. A
// KubernetesCluster EQUALS condition narrows any of them to its cluster.
func chooseAnchors(c *criterion) []anchorKey {
	cluster := ""
	if c.cluster != nil && c.cluster.op == model.OperatorEquals {
		cluster = c.cluster.value
	}
	key := func(k anchorKind, a, b string) anchorKey {
		return anchorKey{mt: c.mt, kind: k, cluster: cluster, a: a, b: b}
	}
	if keys := nameAnchors(c.res, akName, key); keys != nil {
		return keys
	}
	for _, r := range c.res {
		if r.isTag && r.tag.anchorable {
			if r.tag.anyScope {
				return []anchorKey{key(akTagAny, "", r.tag.value.value)}
			}
			return []anchorKey{key(akTag, r.tag.scope, r.tag.value.value)}
		}
	}
	if keys := nameAnchors(c.namespace, akNamespace, key); keys != nil {
		return keys
	}
	return []anchorKey{key(akScan, "", "")}
}

func nameAnchors(conds []cond, k anchorKind, key func(anchorKind, string, string) anchorKey) []anchorKey {
	for _, r := range conds {
		if r.isTag || r.attr != attrName {
			continue
		}
		switch r.name.op {
		case model.OperatorEquals:
			return []anchorKey{key(k, r.name.value, "")}
		case model.OperatorIn:
			keys := make([]anchorKey, 0, len(r.name.values))
			for _, v := range r.name.values {
				keys = append(keys, key(k, v, ""))
			}
			return keys
		}
	}
	return nil
}

// keys returns every key an entity can be found under for one member
// type, in clusterName (its own, or "" for criteria of any cluster). The
// object-side index leaves out the name key (withName false): an
// object is found by name through its inventory key instead.
func (e *entity) keys(mt memberType, clusterName string, withName bool, out []anchorKey) []anchorKey {
	if withName {
		out = append(out, anchorKey{mt: mt, kind: akName, cluster: clusterName, a: e.name})
	}
	out = append(out, anchorKey{mt: mt, kind: akScan, cluster: clusterName})
	for _, t := range e.tags {
		out = append(out,
			anchorKey{mt: mt, kind: akTag, cluster: clusterName, a: t.scope, b: t.value},
			anchorKey{mt: mt, kind: akTagAny, cluster: clusterName, b: t.value})
	}
	if e.key.Namespace != "" {
		out = append(out, anchorKey{mt: mt, kind: akNamespace, cluster: clusterName, a: e.lnamespace})
	}
	return out
}
