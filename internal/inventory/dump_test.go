package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// writeTree creates files (path relative to root, slash-separated) and
// empty directories (path ending in "/").
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func keys(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, KeyOf(o).String())
	}
	return out
}

func checkProblems(t *testing.T, got, want []Problem) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	t.Errorf("got %d problems, want %d", len(got), len(want))
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = fmt.Sprintf("%#v", got[i])
		}
		if i < len(want) {
			w = fmt.Sprintf("%#v", want[i])
		}
		if g != w {
			t.Errorf("problem %d:\n got  %s\n want %s", i, g, w)
		}
	}
}

func node(name string) string {
	return "apiVersion: v1\nkind: Node\nmetadata: {name: " + name + "}\nstatus: {addresses: [{type: InternalIP, address: 10.0.0.1}]}\n"
}

func TestLoadDirLayout(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"README.md":                         "# not a manifest",
		"stray.yaml":                        node("stray"),
		".hidden.yaml":                      node("hidden-file"),
		".snapshots/old/nodes.yaml":         node("snapshot"),
		"alpha/nodes.yaml":                  node("a1"),
		"alpha/sub/deeper/ns.yml":           "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
		"alpha/svc.JSON":                    `{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop"}}`,
		"alpha/.git/objects.yaml":           node("in-git"),
		"alpha/notes.txt":                   "not: [valid",
		"alpha/nodes.yaml.bak":              "not: [valid",
		"alpha/sub/.cache/x.json":           "{broken",
		"beta/all.json":                     `[{"apiVersion":"v1","kind":"Node","metadata":{"name":"b1"}},{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop"}}]`,
		"empty-cluster/":                    "",
		"gamma/deep/er/still/gateway.yaml":  "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: edge}\n",
		"gamma/deep/er/still/README.md":     "ignored",
		"gamma/deep/er/still/ignore.yaml~":  "ignored",
		"gamma/deep/er/still/egress.yml":    "apiVersion: crd.antrea.io/v1beta1\nkind: Egress\nmetadata: {name: eg}\n",
		"gamma/deep/er/still/pools.json":    `{"apiVersion":"crd.antrea.io/v1alpha2","kind":"IPPool","metadata":{"name":"pool"}}`,
		"gamma/deep/er/still/ext-pools.yml": "apiVersion: crd.antrea.io/v1beta1\nkind: ExternalIPPool\nmetadata: {name: ext}\n",
	})
	d, err := LoadDir(root)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if want := []string{"alpha", "beta", "empty-cluster", "gamma"}; !reflect.DeepEqual(d.Clusters, want) {
		t.Errorf("Clusters = %q, want %q", d.Clusters, want)
	}
	wantKeys := []string{
		"alpha/Node/a1",
		"alpha/Namespace/shop",
		"alpha/Service/shop/web",
		"beta/Node/b1",
		"beta/Pod/shop/p",
		"gamma/Egress/eg",
		"gamma/ExternalIPPool/ext",
		"gamma/Gateway/edge/gw",
		"gamma/IPPool/pool",
	}
	if got := keys(d.Objects); !reflect.DeepEqual(got, wantKeys) {
		t.Errorf("objects = %q, want %q", got, wantKeys)
	}
	checkProblems(t, d.Problems, []Problem{{
		File:   filepath.Join(root, "stray.yaml"),
		Reason: "files must be inside a cluster directory (" + filepath.Join(root, "<cluster>", "stray.yaml") + ")",
	}})
	if d.Ignored != 0 {
		t.Errorf("Ignored = %d, want 0", d.Ignored)
	}
}

func TestLoadDirErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string // nil: the directory does not exist
		path    string            // relative to the temporary directory
		wantErr string            // substring, after the path; DIR stands for the directory
		notExit bool              // errors.Is(err, fs.ErrNotExist)
	}{
		{name: "missing directory", path: "nope", wantErr: "no such file or directory", notExit: true},
		{name: "a file, not a directory", files: map[string]string{"inv.yaml": node("x")}, path: "inv.yaml", wantErr: "not a directory"},
		{name: "empty directory", files: map[string]string{"inv/": ""}, path: "inv", wantErr: "no cluster directories (expected DIR" + string(filepath.Separator) + filepath.Join("<cluster>", "*.yaml") + ")"},
		{name: "manifests but no cluster directory", files: map[string]string{"inv/nodes.yaml": node("x"), "inv/pods.json": "[]"}, path: "inv", wantErr: "no cluster directories"},
		{name: "only hidden directories", files: map[string]string{"inv/.git/nodes.yaml": node("x")}, path: "inv", wantErr: "no cluster directories"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			dir := filepath.Join(root, tt.path)
			d, err := LoadDir(dir)
			if err == nil {
				t.Fatalf("LoadDir = %+v, want an error", d)
			}
			if d != nil {
				t.Errorf("LoadDir returned a dump with the error")
			}
			want := strings.ReplaceAll(tt.wantErr, "DIR", dir)
			if !strings.HasPrefix(err.Error(), "inventory "+dir+": ") || !strings.Contains(err.Error(), want) {
				t.Errorf("error = %q, want %q and %q", err, "inventory "+dir+": ", want)
			}
			if tt.notExit && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v does not wrap fs.ErrNotExist", err)
			}
		})
	}
}

func TestLoadDirMalformed(t *testing.T) {
	root := t.TempDir()
	stream := strings.Join([]string{
		"# kubectl output, edited by hand", // 1
		"apiVersion: v1",                   // 2
		"kind: Node",                       // 3
		"metadata: {name: good-1}",         // 4
		"---",                              // 5
		"apiVersion: v1",                   // 6: document 2
		"kind: List",                       // 7
		"items:",                           // 8
		"- apiVersion: v1",                 // 9
		"  kind: Service",
		"  metadata: {name: ok, namespace: shop}",
		"- apiVersion: v1",
		"  kind: Service",
		"  metadata: {name: bad-ip, namespace: shop}",
		"  spec: {clusterIP: 10.0.0.300}",
		"- kind: Pod",
		"  metadata: {name: no-version, namespace: shop}",
		"- apiVersion: v1",
		"  kind: ConfigMap",
		"  metadata: {name: cm, namespace: shop}",
		"---",                                // 21
		"apiVersion: networking.k8s.io/v1",   // 22: document 3
		"kind: Ingress",                      // 23
		"spec: {ingressClassName: nginx}",    // 24
		"---",                                // 25
		"a:",                                 // 26: document 4
		"\tb: tab",                           // 27
		"---",                                // 28
		"just a string",                      // 29: document 5
		"---",                                // 30
		"apiVersion: crd.antrea.io/v1alpha1", // 31: document 6
		"kind: Egress",                       // 32
		"metadata: {name: e-old}",            // 33
		"---",                                // 34
		"apiVersion: v1",                     // 35: document 7
		"kind: PodList",                      // 36
		"items:",                             // 37
		"- {apiVersion: v1, kind: Pod, metadata: {name: p1, namespace: shop}, status: {podIP: 10.244.0.5}}",
		"- {apiVersion: v1, kind: Pod, metadata: {name: p2, namespace: shop}, status: {podIP: bad}}",
		"---",
		"apiVersion: v1",
		"kind: List",
		"items: nope",
		"---",
		"~",
	}, "\n")
	writeTree(t, root, map[string]string{
		"c/stream.yaml": stream,
		"c/bad.json":    "{\n  \"apiVersion\": \"v1\",\n  kind: Node\n}\n",
		"c/list.json": `{"apiVersion":"v1","kind":"List","items":[
			{"apiVersion":"v1","kind":"Node","metadata":{"name":"n-json"}},
			{"apiVersion":"v1","kind":"Node","metadata":{"name":"bad-node"},"spec":{"podCIDR":"x"}}]}`,
		"c/array.json": `[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}}, 5, {"apiVersion":"v1","kind":"Namespace","metadata":{"name":""}}]`,
		"c/type.yaml":  "apiVersion: v1\nkind: Service\nmetadata: {name: typed, namespace: shop}\nspec: {ports: '80'}\n",
	})
	d, err := LoadDir(root)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	f := func(name string) string { return filepath.Join(root, "c", name) }
	checkProblems(t, d.Problems, []Problem{
		{File: f("array.json"), Position: "[1]", Reason: "not a Kubernetes object: json: cannot unmarshal number into Go value of type inventory.header"},
		{File: f("array.json"), Position: "[2]", Object: "Namespace", Reason: "metadata.name: missing"},
		{File: f("bad.json"), Reason: "invalid JSON at line 3, column 3: invalid character 'k' looking for beginning of object key string"},
		{File: f("list.json"), Position: "items[1]", Object: "Node bad-node", Reason: `spec.podCIDRs[0]: "x" is not a CIDR`},
		{File: f("stream.yaml"), Reason: "invalid YAML: yaml: line 27: found character that cannot start any token"},
		{File: f("stream.yaml"), Position: "document 2, line 6, items[1]", Object: "Service shop/bad-ip", Reason: `spec.clusterIPs[0]: "10.0.0.300" is not an IP address`},
		{File: f("stream.yaml"), Position: "document 2, line 6, items[2]", Object: "Pod shop/no-version", Reason: "missing apiVersion or kind"},
		{File: f("stream.yaml"), Position: "document 3, line 22", Object: "Ingress", Reason: "metadata.name: missing"},
		{File: f("stream.yaml"), Position: "document 5, line 29", Reason: "not a Kubernetes object: json: cannot unmarshal string into Go value of type inventory.header"},
		{File: f("stream.yaml"), Position: "document 6, line 31", Object: "Egress e-old", Reason: "Egress crd.antrea.io/v1alpha1 is not supported (kordon reads crd.antrea.io/v1beta1, crd.antrea.io/v1alpha2)"},
		{File: f("stream.yaml"), Position: "document 7, line 35, items[1]", Object: "Pod shop/p2", Reason: `status.podIPs[0].ip: "bad" is not an IP address`},
		{File: f("stream.yaml"), Position: "document 8, line 41", Reason: "items: json: cannot unmarshal string into Go struct field .items of type []json.RawMessage"},
		{File: f("stream.yaml"), Position: "document 9, line 45", Reason: "missing apiVersion or kind"},
		{File: f("type.yaml"), Object: "Service shop/typed", Reason: "spec.ports: expected []v1.ServicePort, got string"},
	})
	wantKeys := []string{"c/Namespace/shop", "c/Node/n-json", "c/Node/good-1", "c/Service/shop/ok", "c/Pod/shop/p1"}
	if got := keys(d.Objects); !reflect.DeepEqual(got, wantKeys) {
		t.Errorf("objects = %q, want %q", got, wantKeys)
	}
	if d.Ignored != 1 {
		t.Errorf("Ignored = %d, want 1 (the ConfigMap)", d.Ignored)
	}
}

func TestLoadDirDuplicates(t *testing.T) {
	root := t.TempDir()
	svc := func(ns, uid string) string {
		return "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: " + ns + ", uid: " + uid + "}\nspec: {clusterIP: 10.96.0.1}\n"
	}
	writeTree(t, root, map[string]string{
		"a/1.yaml":     svc("shop", "first"),
		"a/2.yaml":     svc("shop", "second") + "---\n" + svc("other", "other-ns") + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\n",
		"a/3.yaml":     node("n-dup") + "---\n" + node("n-dup") + "---\n" + svc("shop", "third"),
		"a/sub/4.json": `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"n-dup","uid":"fourth"}}]}`,
		"b/1.yaml":     svc("shop", "cluster-b"),
	})
	d, err := LoadDir(root)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	f := func(name string) string { return filepath.Join(root, filepath.FromSlash(name)) }
	checkProblems(t, d.Problems, []Problem{
		{File: f("a/2.yaml"), Position: "document 1, line 1", Object: "Service shop/web", Reason: "already defined at " + f("a/1.yaml") + "; this copy is skipped"},
		{File: f("a/3.yaml"), Position: "document 2, line 6", Object: "Node n-dup", Reason: "already defined at " + f("a/3.yaml") + " (document 1, line 1); this copy is skipped"},
		{File: f("a/3.yaml"), Position: "document 3, line 11", Object: "Service shop/web", Reason: "already defined at " + f("a/1.yaml") + "; this copy is skipped"},
		{File: f("a/sub/4.json"), Position: "items[0]", Object: "Node n-dup", Reason: "already defined at " + f("a/3.yaml") + " (document 1, line 1); this copy is skipped"},
	})
	wantKeys := []string{"a/Service/shop/web", "a/Service/other/web", "a/Pod/shop/web", "a/Node/n-dup", "b/Service/shop/web"}
	if got := keys(d.Objects); !reflect.DeepEqual(got, wantKeys) {
		t.Fatalf("objects = %q, want %q", got, wantKeys)
	}
	if uid := d.Objects[0].GetMeta().UID; uid != "first" {
		t.Errorf("kept Service has uid %q, want the first copy's", uid)
	}
	if uid := d.Objects[4].GetMeta().UID; uid != "cluster-b" {
		t.Errorf("cluster b Service has uid %q, want cluster-b", uid)
	}
}

// TestLoadDirIgnored: objects of kinds kordon does not keep are skipped
// without a problem, and counted per file and kind, so that validate and
// members can say how many they left out and where.
func TestLoadDirIgnored(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"c/misc.yaml": strings.Join([]string{
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: shop}\n",
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n",
			"apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: calico-pool}\n",
			"apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata: {name: istio-gw, namespace: shop}\n",
			"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s, namespace: shop}}\n- {apiVersion: v1, kind: Namespace, metadata: {name: shop}}\n- {apiVersion: apps/v1, kind: Deployment, metadata: {name: api, namespace: shop}}\n",
		}, "---\n"),
		"c/nodes.yaml":       node("n1"),
		"c/sub/more.json":    `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "shop"}}`,
		"d/deployments.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n",
	})
	d, err := LoadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if d.Ignored != 8 {
		t.Errorf("Ignored = %d, want 8", d.Ignored)
	}
	want := []IgnoredFile{
		{Cluster: "c", File: filepath.Join(root, "c", "misc.yaml"), Count: 6, Kinds: []IgnoredKind{
			{APIVersion: "v1", Kind: "ConfigMap", Count: 1},
			{APIVersion: "apps/v1", Kind: "Deployment", Count: 2},
			{APIVersion: "networking.istio.io/v1beta1", Kind: "Gateway", Count: 1},
			{APIVersion: "crd.projectcalico.org/v1", Kind: "IPPool", Count: 1},
			{APIVersion: "v1", Kind: "Secret", Count: 1},
		}},
		{Cluster: "c", File: filepath.Join(root, "c", "sub", "more.json"), Count: 1, Kinds: []IgnoredKind{{APIVersion: "v1", Kind: "ConfigMap", Count: 1}}},
		{Cluster: "d", File: filepath.Join(root, "d", "deployments.yaml"), Count: 1, Kinds: []IgnoredKind{{APIVersion: "apps/v1", Kind: "Deployment", Count: 1}}},
	}
	if !reflect.DeepEqual(d.IgnoredFiles, want) {
		t.Errorf("IgnoredFiles =\n %+v\nwant\n %+v", d.IgnoredFiles, want)
	}
	if got := d.IgnoredByCluster(); !reflect.DeepEqual(got, map[string]int{"c": 7, "d": 1}) {
		t.Errorf("IgnoredByCluster = %v", got)
	}
	checkProblems(t, d.Problems, nil)
	if got := keys(d.Objects); !reflect.DeepEqual(got, []string{"c/Namespace/shop", "c/Node/n1"}) {
		t.Errorf("objects = %q, want [c/Namespace/shop c/Node/n1]", got)
	}
}

func TestLoadDirExample(t *testing.T) {
	d, err := LoadDir(filepath.Join("..", "..", "examples", "inventory"))
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if want := []string{"prod-east", "prod-west"}; !reflect.DeepEqual(d.Clusters, want) {
		t.Errorf("Clusters = %q, want %q", d.Clusters, want)
	}
	for _, p := range d.Problems {
		t.Errorf("problem: %s", p)
	}
	if d.Ignored != 0 || d.IgnoredFiles != nil {
		t.Errorf("Ignored = %d %v, want none", d.Ignored, d.IgnoredFiles)
	}
	count := map[string]map[Kind]int{}
	for _, o := range d.Objects {
		c := o.GetMeta().Cluster
		if count[c] == nil {
			count[c] = map[Kind]int{}
		}
		count[c][o.Kind()]++
	}
	want := map[string]map[Kind]int{
		"prod-east": {KindNode: 3, KindNamespace: 3, KindService: 6, KindPod: 7, KindIngress: 1, KindGateway: 1, KindEgress: 2, KindIPPool: 1, KindExternalIPPool: 1},
		"prod-west": {KindNode: 2, KindNamespace: 2, KindService: 2, KindPod: 1, KindGateway: 1, KindEgress: 1, KindIPPool: 1},
	}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("objects per cluster and kind = %v, want %v", count, want)
	}

	byKey := map[string]Object{}
	for _, o := range d.Objects {
		byKey[KeyOf(o).String()] = o
	}
	get := func(key string) Object {
		t.Helper()
		o, ok := byKey[key]
		if !ok {
			t.Fatalf("no object %s", key)
		}
		return o
	}
	// Spot checks of what the membership stage relies on.
	checks := []struct {
		name string
		got  string
		want string
	}{
		{"east-node-1 internal IPs", fmt.Sprint(get("prod-east/Node/east-node-1").(*Node).InternalIPs), "[10.10.1.11 fd00:10:10:1::11]"},
		{"east-node-1 pod CIDRs", fmt.Sprint(get("prod-east/Node/east-node-1").(*Node).PodCIDRs), "[10.244.1.0/24 fd00:244:1::/64]"},
		{"east-node-3 external IPs", fmt.Sprint(get("prod-east/Node/east-node-3").(*Node).ExternalIPs), "[198.51.100.13]"},
		{"west-node-1 pod CIDRs from podCIDR", fmt.Sprint(get("prod-west/Node/west-node-1").(*Node).PodCIDRs), "[10.245.1.0/24]"},
		{"cart NodePortLocal", fmt.Sprint(get("prod-east/Service/shop/cart").(*Service).NodePortLocal), "true"},
		{"frontend NodePortLocal", fmt.Sprint(get("prod-east/Service/shop/frontend").(*Service).NodePortLocal), "false"},
		{"frontend LB IP", get("prod-east/Service/shop/frontend").(*Service).LoadBalancer[0].IP.String(), "192.168.50.10"},
		{"redis port", fmt.Sprintf("%+v", get("prod-east/Service/shop/redis").(*Service).Ports), "[{Name: Protocol:TCP Port:6379 TargetPort:6379 TargetPortName: NodePort:0}]"},
		{"west catalog ports", fmt.Sprint(len(get("prod-west/Service/shop/catalog").(*Service).Ports)), "2"},
		{"cart-0 NPL", fmt.Sprintf("%+v", get("prod-east/Pod/shop/cart-0").(*Pod).NodePortLocal), "[{PodPort:8080 NodeIP:10.10.1.11 NodePort:61001 Protocol:TCP}]"},
		{"frontend pod IPs", fmt.Sprint(get("prod-east/Pod/shop/frontend-6d4f7").(*Pod).IPs), "[10.244.1.21 fd00:244:1::21]"},
		{"ledger-0 pools", fmt.Sprint(get("prod-east/Pod/payments/ledger-0").(*Pod).IPPools), "[routable-pool]"},
		{"web ingress", fmt.Sprintf("%s %v %v", get("prod-east/Ingress/shop/web").(*Ingress).ClassName, get("prod-east/Ingress/shop/web").(*Ingress).TLS, get("prod-east/Ingress/shop/web").(*Ingress).Backends), "nginx true [{frontend 443 } {cart 80 }]"},
		{"pay-gw addresses", fmt.Sprint(get("prod-east/Gateway/payments/pay-gw").(*Gateway).Addresses), "[192.168.50.40]"},
		{"query-gw untyped address", fmt.Sprint(get("prod-west/Gateway/analytics/query-gw").(*Gateway).Addresses), "[192.168.60.40]"},
		{"egress-payments IPs", fmt.Sprint(get("prod-east/Egress/egress-payments").(*Egress).EffectiveIPs()), "[10.10.1.100]"},
		{"egress-batch unassigned", fmt.Sprint(len(get("prod-east/Egress/egress-batch").(*Egress).EffectiveIPs())), "0"},
		{"egress-analytics manual IP", fmt.Sprint(get("prod-west/Egress/egress-analytics").(*Egress).EffectiveIPs()), "[10.30.1.100]"},
		{"egress-analytics node", get("prod-west/Egress/egress-analytics").(*Egress).EgressNode, "west-node-2"},
		{"routable-pool range", get("prod-east/IPPool/routable-pool").(*IPPool).Ranges[0].Range().String(), "10.20.0.0-10.20.0.127"},
		{"routable-pool vlan", fmt.Sprint(get("prod-east/IPPool/routable-pool").(*IPPool).Ranges[0].VLAN), "120"},
		{"west-pool range", get("prod-west/IPPool/west-pool").(*IPPool).Ranges[0].Range().String(), "10.40.0.10-10.40.0.50"},
		{"egress-pool selector", fmt.Sprint(get("prod-east/ExternalIPPool/egress-pool").(*ExternalIPPool).NodeSelector.MatchLabels), "map[egress-gateway:true]"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %s, want %s", c.got, c.want)
			}
		})
	}
}

func TestDumpLoadFile(t *testing.T) {
	var d Dump
	d.LoadFile("c", "objs.yaml", []byte(node("n1")+"---\n"+node("n1")+"---\n"+node("n2")+"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"))
	if got, want := keys(d.Objects), []string{"c/Node/n1", "c/Node/n2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("objects = %q, want %q", got, want)
	}
	checkProblems(t, d.Problems, []Problem{{
		File: "objs.yaml", Position: "document 2, line 6", Object: "Node n1",
		Reason: "already defined at objs.yaml (document 1, line 1); this copy is skipped",
	}})
	if want := []IgnoredFile{{Cluster: "c", File: "objs.yaml", Count: 1, Kinds: []IgnoredKind{{APIVersion: "v1", Kind: "ConfigMap", Count: 1}}}}; d.Ignored != 1 || !reflect.DeepEqual(d.IgnoredFiles, want) {
		t.Errorf("Ignored = %d, %+v; want 1, %+v", d.Ignored, d.IgnoredFiles, want)
	}
	if len(d.Clusters) != 0 {
		t.Errorf("LoadFile added clusters %q", d.Clusters)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "inv/c/x.yaml", Reason: "invalid YAML: yaml: line 3: oops"}, "inv/c/x.yaml: invalid YAML: yaml: line 3: oops"},
		{Problem{File: "inv/c/x.yaml", Position: "document 2, line 14, items[3]", Reason: "r"}, "inv/c/x.yaml (document 2, line 14, items[3]): r"},
		{Problem{File: "inv/c/x.yaml", Object: "Service shop/web", Reason: "r"}, "inv/c/x.yaml: Service shop/web: r"},
		{Problem{File: "f", Position: "items[0]", Object: "Node n", Reason: "r"}, "f (items[0]): Node n: r"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// Object order follows the sorted file paths within each cluster, clusters
// in name order, whatever order the directory lists them in.
func TestLoadDirOrder(t *testing.T) {
	root := t.TempDir()
	names := []string{"zeta", "alpha", "mid"}
	files := map[string]string{}
	for _, c := range names {
		files[c+"/b.yaml"] = node(c + "-b")
		files[c+"/a/z.yaml"] = node(c + "-az")
		files[c+"/a.yaml"] = node(c + "-a")
	}
	writeTree(t, root, files)
	d, err := LoadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if !reflect.DeepEqual(d.Clusters, names) {
		t.Errorf("Clusters = %q, want %q", d.Clusters, names)
	}
	var want []string
	for _, c := range names {
		// "a.yaml" < "a/z.yaml" < "b.yaml" as paths sort ('.' < '/').
		want = append(want, c+"/Node/"+c+"-a", c+"/Node/"+c+"-az", c+"/Node/"+c+"-b")
	}
	if got := keys(d.Objects); !reflect.DeepEqual(got, want) {
		t.Errorf("objects = %q, want %q", got, want)
	}
}

func TestLoadDirEdgeCases(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("c1/nodes.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {addresses: [{type: InternalIP, address: 10.0.0.1}]}\n")
	write("c1/.hidden.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: hidden}\n")
	write("c1/zoned.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: zoned}\nstatus: {addresses: [{type: InternalIP, address: \"fe80::1%eth0\"}]}\n")
	write("c1/unreadable.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
	if err := os.Chmod(filepath.Join(dir, "c1/unreadable.yaml"), 0); err != nil {
		t.Fatal(err)
	}
	d, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("one bad file must not abort the load: %v", err)
	}
	var names []string
	for _, o := range d.Objects {
		if n := o.GetMeta().Name; n != "x" { // root reads the unreadable file anyway
			names = append(names, n)
		}
	}
	if len(names) != 1 || names[0] != "n1" {
		t.Errorf("objects = %v, want only n1 (hidden files are skipped, the zoned node is refused)", names)
	}
	var reasons []string
	for _, p := range d.Problems {
		reasons = append(reasons, p.Reason)
	}
	joined := strings.Join(reasons, "\n")
	if !strings.Contains(joined, "has a zone") {
		t.Errorf("zoned address not reported: %q", joined)
	}
	if os.Geteuid() != 0 && !strings.Contains(joined, "cannot read") {
		t.Errorf("unreadable file not reported: %q", joined)
	}
}
