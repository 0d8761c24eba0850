package membership

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"testing"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// world is the reference state of a randomized test: the objects and
// groups that exist. Value pools are tiny on purpose, so that addresses
// collide across objects and clusters, NodePortLocal endpoints coincide
// with node ports, and pool ranges overlap.
type world struct {
	rnd     *rand.Rand
	objects map[inventory.Key]inventory.Object
	groups  map[string]*model.Group
}

var (
	wClusters   = []string{"east", "West"}
	wNamespaces = []string{"a", "b"}
	wNames      = []string{"s1", "s2", "s3"}
	wNodeIPs    = []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1"}
	wPortNames  = []string{"http", "metrics"}
	wVIPs       = []string{"192.168.0.1", "192.168.0.2", "192.168.0.3"}
	wPorts      = []int32{30000, 30001, 61000}
	wRanges     = []string{"10.20.0.0/30", "10.20.0.0/29", "10.20.0.4", "10.0.0.0/30"}
	wGroups     = []string{"g0", "g1", "g2", "g3", "g4", "g5"}
	wKinds      = []inventory.Kind{inventory.KindNode, inventory.KindNamespace, inventory.KindService, inventory.KindPod,
		inventory.KindIngress, inventory.KindGateway, inventory.KindEgress, inventory.KindIPPool}
)

func (w *world) pick(list []string) string { return list[w.rnd.IntN(len(list))] }

func (w *world) some(list []string, max int) []netip.Addr {
	var out []netip.Addr
	for i := w.rnd.IntN(max + 1); i > 0; i-- {
		out = append(out, ip(w.pick(list)))
	}
	return out
}

func (w *world) labels() map[string]string {
	switch w.rnd.IntN(3) {
	case 0:
		return nil
	case 1:
		return map[string]string{"app": "web", "team": w.pick([]string{"x", "y"})}
	}
	return map[string]string{"app": "api"}
}

func (w *world) object(kind inventory.Kind) inventory.Object {
	m := inventory.Meta{Cluster: w.pick(wClusters), Name: w.pick(wNames), Labels: w.labels()}
	if kind.Namespaced() {
		m.Namespace = w.pick(wNamespaces)
	}
	switch kind {
	case inventory.KindNode:
		n := &inventory.Node{Meta: m, InternalIPs: w.some(wNodeIPs, 2)}
		if w.rnd.IntN(2) == 0 {
			n.PodCIDRs = []netip.Prefix{netipPrefix(fmt.Sprintf("10.244.%d.0/24", w.rnd.IntN(3)))}
		}
		return n
	case inventory.KindNamespace:
		return &inventory.Namespace{Meta: m}
	case inventory.KindService:
		s := &inventory.Service{Meta: m, Type: []inventory.ServiceType{inventory.ServiceClusterIP, inventory.ServiceNodePort, inventory.ServiceLoadBalancer}[w.rnd.IntN(3)],
			NodePortLocal: w.rnd.IntN(2) == 0, Selector: map[string]string{"app": w.pick([]string{"web", "api"})}}
		for i := w.rnd.IntN(3); i > 0; i-- {
			sp := inventory.ServicePort{Protocol: address.TCP, Port: 80, TargetPort: []int32{8080, 9090}[w.rnd.IntN(2)], NodePort: wPorts[w.rnd.IntN(len(wPorts))]}
			if w.rnd.IntN(3) == 0 {
				sp.TargetPort, sp.TargetPortName = 0, w.pick(wPortNames)
			}
			s.Ports = append(s.Ports, sp)
		}
		for _, a := range w.some(wVIPs, 2) {
			s.LoadBalancer = append(s.LoadBalancer, inventory.LoadBalancerIngress{IP: a})
		}
		return s
	case inventory.KindPod:
		p := &inventory.Pod{Meta: m}
		for i := w.rnd.IntN(3); i > 0; i-- {
			p.NodePortLocal = append(p.NodePortLocal, inventory.NPLMapping{PodPort: []int32{8080, 9090}[w.rnd.IntN(2)], NodeIP: ip(w.pick(wNodeIPs)), NodePort: wPorts[w.rnd.IntN(len(wPorts))], Protocol: address.TCP})
		}
		for i := w.rnd.IntN(3); i > 0; i-- {
			p.NamedPorts = append(p.NamedPorts, inventory.NamedPort{Name: w.pick(wPortNames), Port: []int32{8080, 9090}[w.rnd.IntN(2)], Protocol: address.TCP, Sidecar: w.rnd.IntN(4) == 0})
		}
		return p
	case inventory.KindIngress:
		in := &inventory.Ingress{Meta: m}
		for _, a := range w.some(wVIPs, 2) {
			in.LoadBalancer = append(in.LoadBalancer, inventory.LoadBalancerIngress{IP: a})
		}
		return in
	case inventory.KindGateway:
		return &inventory.Gateway{Meta: m, Addresses: w.some(wVIPs, 2)}
	case inventory.KindEgress:
		// Manual or pool IPs, assigned, stale or not taken: only the IP
		// in effect is an address.
		e := &inventory.Egress{Meta: m}
		if a := w.some(wNodeIPs, 1); len(a) > 0 {
			e.SpecIP = a[0]
		}
		if w.rnd.IntN(2) == 0 {
			e.ExternalIPPool = "pool"
		}
		if w.rnd.IntN(2) == 0 {
			e.StatusIP, e.EgressNode = ip(w.pick(wNodeIPs)), "n1"
		}
		return e
	default:
		p := &inventory.IPPool{Meta: m}
		for i := w.rnd.IntN(3); i > 0; i-- {
			r, _ := address.ParseRange(w.pick(wRanges))
			p.Ranges = append(p.Ranges, inventory.IPRange{Start: r.From(), End: r.To()})
		}
		return p
	}
}

var wTypes = []struct {
	member, key string
	namespaced  bool
}{
	{model.MemberKubernetesService, "Name", true}, {model.MemberKubernetesIngress, "Name", true},
	{model.MemberKubernetesGateway, "Name", true}, {model.MemberKubernetesNode, "IPAddress", false},
	{model.MemberKubernetesNode, "PodCidr", false}, {model.MemberAntreaEgress, "Name", false},
	{model.MemberAntreaIPPool, "Name", false},
}

func (w *world) condition(t int) *model.Condition {
	wt := wTypes[t]
	if wt.member == model.MemberKubernetesNode {
		return condition(wt.member, wt.key, "MATCHES", "*")
	}
	switch w.rnd.IntN(7) {
	case 0:
		return condition(wt.member, "Name", "EQUALS", w.pick(wNames))
	case 1:
		return condition(wt.member, "Name", "IN", "s1,S2")
	case 2:
		return condition(wt.member, "Name", "STARTSWITH", "s")
	case 3:
		return condition(wt.member, "Name", "NOTEQUALS", "s2")
	case 4:
		return condition(wt.member, "Name", "MATCHES", "s[13]")
	case 5:
		return condition(wt.member, "Tag", "EQUALS", "dis:k8s:app|web")
	}
	return condition(wt.member, "Tag", "EQUALS", "|API")
}

func (w *world) criterion() (model.Expression, int) {
	t := w.rnd.IntN(len(wTypes))
	conds := []*model.Condition{w.condition(t)}
	switch w.rnd.IntN(4) {
	case 0:
		conds = append(conds, condition(model.MemberKubernetesCluster, "Name", "EQUALS", w.pick([]string{"EAST", "west"})))
	case 1:
		conds = append(conds, condition(model.MemberKubernetesCluster, "Name", "IN", "east,west"))
	case 2:
		conds = append(conds, condition(model.MemberKubernetesCluster, "Name", "STARTSWITH", "we"))
	}
	if wTypes[t].namespaced && w.rnd.IntN(2) == 0 {
		if w.rnd.IntN(2) == 0 {
			conds = append(conds, condition(model.MemberKubernetesNamespace, "Name", "EQUALS", w.pick(wNamespaces)))
		} else {
			conds = append(conds, condition(model.MemberKubernetesNamespace, "Tag", "EQUALS", "dis:k8s:team|x"))
		}
	}
	if len(conds) == 1 {
		return conds[0], t
	}
	w.rnd.Shuffle(len(conds), func(i, j int) { conds[i], conds[j] = conds[j], conds[i] })
	return nested(conds...), t
}

func (w *world) group(index int) *model.Group {
	g := &model.Group{}
	prevType, prevSingle := -1, false
	for i := w.rnd.IntN(3) + 1; i > 0; i-- {
		c, t := w.criterion()
		_, single := c.(*model.Condition)
		if len(g.Expression) > 0 {
			op := or()
			if single && prevSingle && t == prevType && w.rnd.IntN(2) == 0 {
				op = and()
			}
			g.Expression = append(g.Expression, op)
		}
		g.Expression = append(g.Expression, c)
		prevType, prevSingle = t, single
	}
	if w.rnd.IntN(3) == 0 {
		r := w.pick(append(slices.Clone(wRanges), wVIPs...))
		g.Expression = append(g.Expression, or(), &model.IPAddressExpression{IPAddresses: []string{r}})
	}
	if index > 0 && w.rnd.IntN(2) == 0 {
		child := "/infra/domains/default/groups/" + wGroups[w.rnd.IntN(index)]
		g.Expression = append(g.Expression, or(), &model.PathExpression{Paths: []string{child}})
	}
	return g
}

// change applies one random change to the world and the index.
func (w *world) change(x *Index) string {
	switch n := w.rnd.IntN(100); {
	case n < 50:
		o := w.object(wKinds[w.rnd.IntN(len(wKinds))])
		w.objects[inventory.KeyOf(o)] = o
		x.Upsert(o)
		return "upsert " + inventory.KeyOf(o).String()
	case n < 65:
		keys := w.keys()
		if len(keys) == 0 {
			return "noop"
		}
		k := keys[w.rnd.IntN(len(keys))]
		delete(w.objects, k)
		x.Delete(k)
		return "delete " + k.String()
	case n < 82:
		i := w.rnd.IntN(len(wGroups))
		p := "/infra/domains/default/groups/" + wGroups[i]
		g := w.group(i)
		w.groups[p] = g
		before := contents(x)
		preview, err := x.Preview(map[string]*model.Group{p: g})
		if err != nil {
			panic(err)
		}
		if err := x.SetGroup(p, g); err != nil {
			panic(err)
		}
		w.checkPreview(x, preview, before)
		return "set group " + p
	case n < 87:
		p := "/infra/domains/default/groups/" + w.pick(wGroups)
		delete(w.groups, p)
		before := contents(x)
		preview, err := x.Preview(map[string]*model.Group{p: nil})
		if err != nil {
			panic(err)
		}
		x.DeleteGroup(p)
		w.checkPreview(x, preview, before)
		return "delete group " + p
	case n < 90:
		c := w.pick(wClusters)
		for _, k := range w.keys() {
			if k.Cluster == c {
				delete(w.objects, k)
			}
		}
		x.DeleteCluster(c)
		return "delete cluster " + c
	default:
		c := w.pick(wClusters)
		var objs []inventory.Object
		for _, k := range w.keys() {
			o := w.objects[k]
			if k.Cluster != c {
				continue
			}
			switch w.rnd.IntN(3) {
			case 0:
				delete(w.objects, k)
				continue
			case 1:
				o = w.object(k.Kind)
				o.GetMeta().Cluster, o.GetMeta().Name, o.GetMeta().Namespace = k.Cluster, k.Name, k.Namespace
				w.objects[k] = o
			}
			objs = append(objs, o)
		}
		x.ReplaceCluster(c, objs)
		return "resync cluster " + c
	}
}

func (w *world) keys() []inventory.Key {
	keys := make([]inventory.Key, 0, len(w.objects))
	for k := range w.objects {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b inventory.Key) int {
		if a.String() < b.String() {
			return -1
		}
		return 1
	})
	return keys
}

// build makes a fresh index of the world, loading objects and groups in a
// random order: the result must not depend on it.
func (w *world) build(t *testing.T, rnd *rand.Rand) *Index {
	x := New()
	paths := model.Paths(w.groups)
	keys := w.keys()
	rnd.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	rnd.Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })
	split := rnd.IntN(len(keys) + 1)
	for _, k := range keys[:split] {
		x.Upsert(w.objects[k])
	}
	for _, p := range paths {
		setGroup(t, x, p, w.groups[p])
	}
	for _, k := range keys[split:] {
		x.Upsert(w.objects[k])
	}
	return x
}

func describe(s snapshot) string {
	return fmt.Sprintf("members %v\n ranges %v\n ip+port %v",
		sortedKeys(s.members, func(m Member) string { return m.Type + m.ConditionKey + ":" + m.Key.String() }),
		sortedKeys(s.ranges, func(r netipx.IPRange) string { return address.FormatRange(r) }),
		sortedKeys(s.ipPorts, func(m address.IPPort) string { return m.String() }))
}

// TestRandomChangesMatchFullBuild applies random inventory and group
// changes and checks after each one that every delta is exactly the
// difference between the groups before and after, and regularly that the
// incremental index equals one built from scratch.
func TestRandomChangesMatchFullBuild(t *testing.T) {
	seeds, steps := 40, 250
	if s := os.Getenv("KORDON_RANDOM_SEEDS"); s != "" {
		seeds, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		seeds = 8
	}
	first := 1
	if s := os.Getenv("KORDON_RANDOM_SEED"); s != "" {
		first, _ = strconv.Atoi(s)
		seeds = first
	}
	for seed := first; seed <= seeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			w := &world{rnd: rand.New(rand.NewPCG(uint64(seed), 7)), objects: map[inventory.Key]inventory.Object{}, groups: map[string]*model.Group{}}
			x := New()
			var history []string
			for step := 0; step < steps; step++ {
				before := map[string]snapshot{}
				for _, g := range wGroups {
					p := "/infra/domains/default/groups/" + g
					before[p] = take(x, p)
				}
				history = append(history, w.change(x))
				deltas := map[string]Delta{}
				for _, d := range x.TakeDeltas() {
					deltas[d.Group] = d
				}
				for p, b := range before {
					checkDelta(t, p, b, take(x, p), deltas[p], history)
				}
				if step%10 == 9 || os.Getenv("KORDON_RANDOM_EVERY_STEP") != "" {
					fresh := w.build(t, rand.New(rand.NewPCG(uint64(seed), uint64(step))))
					for p := range before {
						got, want := take(x, p), take(fresh, p)
						if describe(got) != describe(want) {
							t.Fatalf("after %d steps (last: %s), %s differs from a full build:\nincremental: %s\nfull build:  %s", step+1, history[len(history)-1], p, describe(got), describe(want))
						}
						if a, b := memberNames(x, p), memberNames(fresh, p); !equalStrings(a, b) {
							t.Fatalf("%s: effective members %q, full build %q", p, a, b)
						}
					}
				}
			}
		})
	}
}

func checkDelta(t *testing.T, path string, before, after snapshot, d Delta, history []string) {
	t.Helper()
	fail := func(what string, got, want []string) {
		t.Fatalf("step %d (%s): %s: delta %s = %q, want %q", len(history), history[len(history)-1], path, what, got, want)
	}
	diff := func(a, b map[string]bool) []string {
		var out []string
		for k := range a {
			if !b[k] {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return out
	}
	memberSet := func(s snapshot) map[string]bool {
		out := map[string]bool{}
		for m := range s.members {
			out[m.Type+m.ConditionKey+":"+m.Key.String()] = true
		}
		return out
	}
	rangeSet := func(s snapshot) map[string]bool {
		out := map[string]bool{}
		for r := range s.ranges {
			out[address.FormatRange(r)] = true
		}
		return out
	}
	portSet := func(s snapshot) map[string]bool {
		out := map[string]bool{}
		for m := range s.ipPorts {
			out[m.String()] = true
		}
		return out
	}
	strs := func(n int, f func(int) string) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, f(i))
		}
		slices.Sort(out)
		return out
	}
	got := strs(len(d.AddedMembers), func(i int) string {
		m := d.AddedMembers[i]
		return m.Type + m.ConditionKey + ":" + m.Key.String()
	})
	if want := diff(memberSet(after), memberSet(before)); !equalStrings(got, want) {
		fail("added members", got, want)
	}
	got = strs(len(d.RemovedMembers), func(i int) string {
		m := d.RemovedMembers[i]
		return m.Type + m.ConditionKey + ":" + m.Key.String()
	})
	if want := diff(memberSet(before), memberSet(after)); !equalStrings(got, want) {
		fail("removed members", got, want)
	}
	got = strs(len(d.AddedAddresses), func(i int) string { return address.FormatRange(d.AddedAddresses[i]) })
	if want := diff(rangeSet(after), rangeSet(before)); !equalStrings(got, want) {
		fail("added addresses", got, want)
	}
	got = strs(len(d.RemovedAddresses), func(i int) string { return address.FormatRange(d.RemovedAddresses[i]) })
	if want := diff(rangeSet(before), rangeSet(after)); !equalStrings(got, want) {
		fail("removed addresses", got, want)
	}
	got = strs(len(d.AddedIPPorts), func(i int) string { return d.AddedIPPorts[i].String() })
	if want := diff(portSet(after), portSet(before)); !equalStrings(got, want) {
		fail("added ip+port", got, want)
	}
	got = strs(len(d.RemovedIPPorts), func(i int) string { return d.RemovedIPPorts[i].String() })
	if want := diff(portSet(before), portSet(after)); !equalStrings(got, want) {
		fail("removed ip+port", got, want)
	}
}

// checkPreview compares what Preview promised with what applying the
// change produced, for every group Preview reported and every other
// group (which must be unaffected).
func (w *world) checkPreview(x *Index, preview map[string]Content, before map[string]string) {
	for _, g := range wGroups {
		p := "/infra/domains/default/groups/" + g
		got, ok := preview[p]
		if !ok {
			if now := fmt.Sprint(x.Content(p)); now != before[p] {
				panic(fmt.Sprintf("%s changed but the preview did not report it", p))
			}
			continue
		}
		want := x.Content(p)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			panic(fmt.Sprintf("preview of %s:\n%v\nafter applying:\n%v", p, got, want))
		}
	}
}

func contents(x *Index) map[string]string {
	out := map[string]string{}
	for _, g := range wGroups {
		p := "/infra/domains/default/groups/" + g
		out[p] = fmt.Sprint(x.Content(p))
	}
	return out
}
