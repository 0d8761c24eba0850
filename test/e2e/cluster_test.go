package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// proc is a kordon process other than serve (an adapter).
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func (s *server) start(args ...string) *proc {
	p := &proc{cmd: exec.Command(kordon, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Dir = s.dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	s.t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			<-p.done
		}
	})
	return p
}

func (p *proc) kill() { p.cmd.Process.Kill(); <-p.done }

// members is what a group resolves to on the manager: its addresses and
// IP+port members, sorted, space-separated.
func (s *server) members(group string) string {
	c, err := s.client()
	if err != nil {
		s.t.Fatal(err)
	}
	var eff struct {
		IPs   []string `json:"ip_addresses"`
		Ports []struct {
			IP       string `json:"ip"`
			Protocol string `json:"protocol"`
			Port     int    `json:"port"`
		} `json:"ip_port_members"`
	}
	if err := c.Do(context.Background(), http.MethodGet, "/policy/api/v1/infra/domains/default/groups/"+group+"/members/effective", nil, &eff); err != nil {
		return "error: " + err.Error()
	}
	out := eff.IPs
	for _, p := range eff.Ports {
		out = append(out, fmt.Sprintf("%s:%s/%d", p.IP, p.Protocol, p.Port))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func sorted(s string) string {
	f := strings.Fields(s)
	slices.Sort(f)
	return strings.Join(f, " ")
}

// converge waits until every group has the wanted members.
func (s *server) converge(what string, want map[string]string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var diffs []string
		for g, w := range want {
			if got := s.members(g); got != sorted(w) {
				diffs = append(diffs, fmt.Sprintf("%s = %q, want %q", g, got, sorted(w)))
			}
		}
		if len(diffs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(diffs)
			s.t.Fatalf("%s: not reached in 30s:\n  %s", what, strings.Join(diffs, "\n  "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const clusterPolicy = `resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: web, expression: [{resource_type: Condition, member_type: KubernetesService, key: Tag, operator: EQUALS, value: "dis:k8s:tier|web"}]}}
    - {resource_type: ChildGroup, Group: {id: nodes, expression: [{resource_type: Condition, member_type: KubernetesNode, key: IPAddress, operator: MATCHES, value: "*"}]}}
    - {resource_type: ChildGroup, Group: {id: ingress, expression: [{resource_type: Condition, member_type: KubernetesIngress, key: Name, operator: EQUALS, value: shop}]}}
    - {resource_type: ChildGroup, Group: {id: gateway, expression: [{resource_type: Condition, member_type: KubernetesGateway, key: Name, operator: EQUALS, value: shop-gw}]}}
    - {resource_type: ChildGroup, Group: {id: egress, expression: [{resource_type: Condition, member_type: AntreaEgress, key: Name, operator: EQUALS, value: shop-egress}]}}
    - {resource_type: ChildGroup, Group: {id: pool, expression: [{resource_type: Condition, member_type: AntreaIPPool, key: Name, operator: EQUALS, value: routable}]}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: vm-to-shop
        category: Application
        rules:
        - {id: web, destination_groups: [/infra/domains/default/groups/web], services: [/infra/services/HTTPS], action: ALLOW}
`

func must(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func node(name, ip string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Spec:   corev1.NodeSpec{PodCIDRs: []string{"10.244.0.0/24"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}}}
}

func (k *kube) createNode(t *testing.T, name, ip string) {
	t.Helper()
	n, err := k.cs.CoreV1().Nodes().Create(bg, node(name, ip), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status = node(name, ip).Status
	must(t)(k.cs.CoreV1().Nodes().UpdateStatus(bg, n, metav1.UpdateOptions{}))
}

func (k *kube) setEgressIP(t *testing.T, version, ip string) {
	t.Helper()
	r := k.dyn.Resource(antrea(version, "egresses"))
	u, err := r.Get(bg, "shop-egress", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unstructured.SetNestedField(u.Object, ip, "status", "egressIP")
	unstructured.SetNestedField(u.Object, "n1", "status", "egressNode")
	must(t)(r.UpdateStatus(bg, u, metav1.UpdateOptions{}))
}

// saKubeconfig writes a kubeconfig with a token of the adapter's
// ServiceAccount: the adapter then runs with exactly the permissions
// its manifests grant.
func (k *kube) saKubeconfig(t *testing.T, dir string) string {
	token := strings.TrimSpace(k.ctl("", "create", "token", "kordon-adapter", "-n", "kordon-system", "--duration", "1h"))
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: k.cfg.Host, CertificateAuthorityData: k.cfg.CAData}
	cfg.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "sa"}
	cfg.CurrentContext = "c"
	path := filepath.Join(dir, "adapter.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestClusterAdapter registers a cluster with a real kube-apiserver,
// deploys the adapter's RBAC with kubectl, runs `kordon adapter` with the
// ServiceAccount's token, and checks the manager's groups follow changes
// made with client-go and kubectl, a CRD installed later, and a restart
// of the adapter; then deregisters the cluster.
func TestClusterAdapter(t *testing.T) {
	k := startKube(t)
	dir := t.TempDir()
	s := serve(t, dir, "--no-demo")
	os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(clusterPolicy), 0o600)
	s.run(0, "apply", "-f", "policy.yaml")

	contains(t, "register", s.run(0, "cluster", "register", "east", "--bundle-out", "bundle.yaml"), "cluster east registered", "bundle.yaml")
	contains(t, "register twice", s.run(1, "cluster", "register", "east", "--bundle-out", "again.yaml"), "already registered")
	manifests := s.run(0, "cluster", "manifests", "--bundle", "bundle.yaml", "--image", "kordon:test")
	contains(t, "kubectl apply", k.ctl(manifests, "apply", "-f", "-"),
		"namespace/kordon-system created", "serviceaccount/kordon-adapter created", "clusterrole.rbac.authorization.k8s.io/kordon-adapter created",
		"clusterrolebinding.rbac.authorization.k8s.io/kordon-adapter created", "secret/kordon-adapter created", "deployment.apps/kordon-adapter created")
	kubeconfig := k.saKubeconfig(t, dir)
	// The adapter's identity can read what it reports, and nothing else.
	contains(t, "can-i", k.ctl("", "auth", "can-i", "--list", "--as", "system:serviceaccount:kordon-system:kordon-adapter"), "egresses.crd.antrea.io", "pods")
	for _, verb := range []string{"get secrets", "update services", "delete pods", "list configmaps"} {
		if out, code := k.ctlExit("", "auth", "can-i", strings.Fields(verb)[0], strings.Fields(verb)[1], "--as", "system:serviceaccount:kordon-system:kordon-adapter"); code != 1 || !strings.HasPrefix(out, "no") {
			t.Fatalf("the adapter may %s: %s", verb, out)
		}
	}

	// The cluster before the adapter starts: nodes, a namespace, a
	// LoadBalancer Service, a NodePortLocal Service and its pod, an Egress
	// written in v1alpha2, an Ingress and an IPPool applied with kubectl.
	k.createNode(t, "n1", "10.10.0.1")
	k.createNode(t, "n2", "10.10.0.2")
	must(t)(k.cs.CoreV1().Namespaces().Create(bg, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "shop"}}}, metav1.CreateOptions{}))
	web, err := k.cs.CoreV1().Services("shop").Create(bg, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"tier": "web"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(8443), Protocol: corev1.ProtocolTCP}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	web.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.50.10"}}
	web, err = k.cs.CoreV1().Services("shop").UpdateStatus(bg, web, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodePort := web.Spec.Ports[0].NodePort
	must(t)(k.cs.CoreV1().Services("shop").Create(bg, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "npl", Labels: map[string]string{"tier": "web"},
		Annotations: map[string]string{"nodeportlocal.antrea.io/enabled": "true"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "npl"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}, metav1.CreateOptions{}))
	pod, err := k.cs.CoreV1().Pods("shop").Create(bg, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "npl-1", Labels: map[string]string{"app": "npl"},
		Annotations: map[string]string{"nodeportlocal.antrea.io": `[{"podPort":8080,"nodeIP":"10.10.0.1","nodePort":61001,"protocol":"tcp"}]`}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.PodIP, pod.Status.PodIPs = "10.244.0.7", []corev1.PodIP{{IP: "10.244.0.7"}}
	must(t)(k.cs.CoreV1().Pods("shop").UpdateStatus(bg, pod, metav1.UpdateOptions{}))
	eg := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "crd.antrea.io/v1alpha2", "kind": "Egress", "metadata": map[string]any{"name": "shop-egress"},
		"spec": map[string]any{"appliedTo": map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"team": "shop"}}}, "externalIPPool": "egress-pool"}}}
	must(t)(k.dyn.Resource(antrea("v1alpha2", "egresses")).Create(bg, eg, metav1.CreateOptions{}))
	k.setEgressIP(t, "v1alpha2", "10.20.0.5")
	k.ctl(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: shop}
spec:
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 443}}}}
---
apiVersion: crd.antrea.io/v1beta1
kind: IPPool
metadata: {name: routable}
spec:
  ipRanges: [{start: 10.30.0.10, end: 10.30.0.50}]
  subnetInfo: {gateway: 10.30.0.1, prefixLength: 24}
`, "apply", "-f", "-")
	k.ctl("", "patch", "ingress", "shop", "-n", "shop", "--subresource=status", "--type=merge", "-p", `{"status":{"loadBalancer":{"ingress":[{"ip":"192.168.50.20"}]}}}`)

	adapterArgs := []string{"adapter", "--bundle", "bundle.yaml", "--kubeconfig", kubeconfig, "--heartbeat", "1s", "--rediscover", "500ms"}
	a := s.start(adapterArgs...)
	s.converge("first synchronisation", map[string]string{
		"web":   "192.168.50.10 10.10.0.1:TCP/61001", // a LoadBalancer is its VIPs, NodePortLocal its pods' node ports
		"nodes": "10.10.0.1-10.10.0.2", "ingress": "192.168.50.20", "egress": "10.20.0.5", "pool": "10.30.0.10-10.30.0.50", "gateway": "",
	})

	steps := []struct {
		name   string
		change func(t *testing.T)
		want   map[string]string
	}{
		{"LoadBalancer becomes NodePort", func(t *testing.T) {
			k.ctl("", "patch", "service", "web", "-n", "shop", "--type=merge", "-p", `{"spec":{"type":"NodePort"}}`)
		}, map[string]string{"web": fmt.Sprintf("10.10.0.1:TCP/%d 10.10.0.2:TCP/%d 10.10.0.1:TCP/61001", nodePort, nodePort)}},
		{"NodePort becomes ClusterIP", func(t *testing.T) {
			k.ctl("", "patch", "service", "web", "-n", "shop", "--type=json", "-p", `[{"op":"replace","path":"/spec/type","value":"ClusterIP"},{"op":"remove","path":"/spec/ports/0/nodePort"}]`)
		}, map[string]string{"web": "10.10.0.1:TCP/61001"}},
		{"NodePortLocal pod deleted", func(t *testing.T) {
			k.ctl("", "delete", "pod", "npl-1", "-n", "shop", "--grace-period=0", "--force")
		}, map[string]string{"web": ""}},
		{"Egress IP reassigned", func(t *testing.T) {
			k.setEgressIP(t, "v1beta1", "10.20.0.6")
		}, map[string]string{"egress": "10.20.0.6"}},
		{"Gateway API installed later, a Gateway gets addresses", func(t *testing.T) {
			k.ctl("", "apply", "-f", filepath.Join("testdata", "gateway-crd.yaml"))
			k.ctl("", "wait", "--for=condition=Established", "crd/gateways.gateway.networking.k8s.io", "--timeout=30s")
			k.ctl(`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"shop-gw","namespace":"shop"},"spec":{"gatewayClassName":"antrea","listeners":[{"name":"https","port":443,"protocol":"HTTPS"}]}}`, "apply", "-f", "-")
			k.ctl("", "patch", "gateway", "shop-gw", "-n", "shop", "--subresource=status", "--type=merge", "-p", `{"status":{"addresses":[{"type":"IPAddress","value":"192.168.50.30"}]}}`)
		}, map[string]string{"gateway": "192.168.50.30"}},
		{"Ingress deleted with kubectl", func(t *testing.T) {
			k.ctl("", "delete", "ingress", "shop", "-n", "shop")
		}, map[string]string{"ingress": "", "gateway": "192.168.50.30"}},
	}
	// One after another, in the parent test: kube and server helpers
	// report failures on it.
	for _, st := range steps {
		st.change(t)
		s.converge(st.name, st.want)
	}

	// Kill the adapter; change the cluster while nobody watches; restart
	// it: the manager converges with nothing lost and nothing stale.
	a.kill()
	if err := k.cs.CoreV1().Services("shop").Delete(bg, "npl", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	k.createNode(t, "n3", "10.10.0.3")
	k.setEgressIP(t, "v1beta1", "10.20.0.7")
	k.ctl("", "delete", "ippool", "routable")
	a = s.start(adapterArgs...)
	s.converge("after the adapter's restart", map[string]string{
		"web": "", "nodes": "10.10.0.1-10.10.0.3", "ingress": "", "egress": "10.20.0.7", "pool": "", "gateway": "192.168.50.30",
	})
	// Object by object, the manager holds what the cluster holds.
	counts := map[string]int{}
	for kind, n := range map[string]func() int{
		"Node":      func() int { l, _ := k.cs.CoreV1().Nodes().List(bg, metav1.ListOptions{}); return len(l.Items) },
		"Namespace": func() int { l, _ := k.cs.CoreV1().Namespaces().List(bg, metav1.ListOptions{}); return len(l.Items) },
		"Service":   func() int { l, _ := k.cs.CoreV1().Services("").List(bg, metav1.ListOptions{}); return len(l.Items) },
		"Egress":    func() int { return 1 },
		"Gateway":   func() int { return 1 },
	} {
		counts[kind] = n()
	}
	var st struct {
		State   string         `json:"state"`
		Objects map[string]int `json:"objects"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, _ := s.client()
		err := c.Do(bg, http.MethodGet, "/policy/api/v1/kordon/clusters/east", nil, &st)
		if err == nil && st.State == "Up" && fmt.Sprint(st.Objects) == fmt.Sprint(counts) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the manager holds %s %v (%v), the cluster %v\n%s\n%s", st.State, st.Objects, err, counts, s.run(0, "cluster", "show", "east"), a.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	contains(t, "cluster list", s.run(0, "cluster", "list"), "east", "Up", "adapter", "v1.37.2")
	contains(t, "cluster show", s.run(0, "cluster", "show", "east"), "state        Up", "crd.antrea.io/v1beta1", "gateway.networking.k8s.io/v1", "Node 3")

	// Deregistration: members leave, the report names what referenced the
	// cluster, and the adapter is refused and stops.
	s.converge("before deregistration", map[string]string{"nodes": "10.10.0.1-10.10.0.3"})
	contains(t, "deregister", s.run(0, "cluster", "deregister", "east"), "cluster east deregistered", "/infra/domains/default/groups/nodes", "groups/web")
	s.converge("after deregistration", map[string]string{"nodes": "", "egress": "", "gateway": ""})
	select {
	case <-a.done:
		if code := a.cmd.ProcessState.ExitCode(); code != 4 || !strings.Contains(a.out.String(), "refused this cluster's identity") {
			t.Fatalf("adapter exit %d:\n%s", code, a.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the adapter of a deregistered cluster still runs:\n%s", a.out.String())
	}
	// The old bundle stays refused, even once the name is registered again.
	s.run(0, "cluster", "register", "east", "--bundle-out", "new.yaml")
	contains(t, "old identity", s.start(adapterArgs...).waitExit(t, 4), "was replaced")
	// A rotation replaces the identity: the bundle before it is refused.
	contains(t, "rotate", s.run(0, "cluster", "rotate", "east", "--bundle-out", "rotated.yaml"), "refused from now on", "rotated.yaml")
	newArgs := append([]string{"adapter", "--bundle", "new.yaml"}, adapterArgs[3:]...)
	contains(t, "rotated-out identity", s.start(newArgs...).waitExit(t, 4), "was replaced")
}

// waitExit waits for the process to exit with code and returns its output.
func (p *proc) waitExit(t *testing.T, code int) string {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("still running:\n%s", p.out.String())
	}
	if got := p.cmd.ProcessState.ExitCode(); got != code {
		t.Fatalf("exit %d, want %d:\n%s", got, code, p.out.String())
	}
	return p.out.String()
}

// TestServeInProcessCluster runs the adapter inside the manager:
// `kordon serve --cluster NAME=KUBECONFIG`.
func TestServeInProcessCluster(t *testing.T) {
	k := startKube(t)
	k.createNode(t, "n1", "10.10.0.1")
	dir := t.TempDir()
	s := serve(t, dir, "--cluster", "west="+k.kubeconfig, "--cluster-heartbeat", "1s")
	os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(clusterPolicy), 0o600)
	s.run(0, "apply", "-f", "policy.yaml")
	s.converge("in-process adapter", map[string]string{"nodes": "10.10.0.1"})
	k.createNode(t, "n2", "10.10.0.2")
	s.converge("a node added", map[string]string{"nodes": "10.10.0.1-10.10.0.2"})
	waitFor(t, 30*time.Second, "west Up", func() bool {
		out := s.run(0, "cluster", "list")
		return strings.Contains(out, "west") && strings.Contains(out, "Up") && strings.Contains(out, "in-process")
	})
	if strings.Contains(s.run(0, "status"), "DEMO") {
		t.Fatal("the demo runs beside a real cluster")
	}
	// A cluster registered for a remote adapter cannot also be watched in
	// process.
	s.run(0, "cluster", "register", "east", "--bundle-out", "east.yaml")
	s.stop()
	other := exec.Command(kordon, "serve", "--listen", "127.0.0.1:0", "--cluster", "east="+k.kubeconfig)
	other.Dir = dir
	out, err := other.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already registered (source adapter)") {
		t.Fatalf("serve --cluster over a remote cluster: %v\n%s", err, out)
	}
}
