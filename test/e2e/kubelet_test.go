package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildImages builds kordon's image with hack/image.sh (for this machine's
// platform only: the node runs one) and the sandbox image, and returns the
// two OCI tars.
func buildImages(t *testing.T, dir string) (kordonTar, pauseTar string) {
	t.Helper()
	root := repoRoot(t)
	start := time.Now()
	cmd := exec.Command("bash", filepath.Join(root, "hack", "image.sh"))
	cmd.Env = append(os.Environ(), "PLATFORMS=linux/"+runtime.GOARCH, "OUT="+filepath.Join(dir, "image"),
		"IMAGE=localhost/kordon:e2e", "VERSION=e2e", "COMMIT=0000000000000000000000000000000000000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/image.sh: %v\n%s", err, out)
	}
	t.Logf("hack/image.sh: %s", time.Since(start).Round(time.Second))

	// The pause program, in an image of the same shape (its binary is
	// named /kordon there; containerd only runs the entrypoint).
	pause := filepath.Join(dir, "pause")
	build := exec.Command("go", "build", "-trimpath", "-o", pause, "./testdata/kubelet-pause")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the pause program: %v\n%s", err, out)
	}
	pauseTar = filepath.Join(dir, "pause-oci.tar")
	if out, err := exec.Command("go", "run", filepath.Join(root, "hack", "ociimage"), "-tar", pauseTar, "-name", pauseImage,
		"linux/"+runtime.GOARCH+"="+pause).CombinedOutput(); err != nil {
		t.Fatalf("building the pause image: %v\n%s", err, out)
	}
	return filepath.Join(dir, "image", "kordon-oci.tar"), pauseTar
}

const pauseImage = "localhost/kordon-e2e-pause:1"

// helm runs helm with a home of its own and returns its output and exit
// code.
func (n *kubeletNode) helm(t *testing.T, args ...string) (string, int) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(n.helmBin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

type podInfo struct {
	Metadata struct {
		Name string `json:"name"`
		UID  string `json:"uid"`
	} `json:"metadata"`
	Spec struct {
		SecurityContext struct {
			RunAsNonRoot   *bool  `json:"runAsNonRoot"`
			RunAsUser      *int64 `json:"runAsUser"`
			SeccompProfile *struct {
				Type string `json:"type"`
			} `json:"seccompProfile"`
		} `json:"securityContext"`
		NodeSelector map[string]string `json:"nodeSelector"`
		Containers   []struct {
			SecurityContext struct {
				AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
				ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
				Capabilities             struct {
					Drop []string `json:"drop"`
				} `json:"capabilities"`
			} `json:"securityContext"`
		} `json:"containers"`
	} `json:"spec"`
	Status struct {
		Phase             string `json:"phase"`
		ContainerStatuses []struct {
			Ready        bool   `json:"ready"`
			RestartCount int    `json:"restartCount"`
			ContainerID  string `json:"containerID"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

// adapterPod is the one running, ready adapter pod, if there is one.
func (n *kubeletNode) adapterPod(t *testing.T) (podInfo, bool) {
	out, code := n.ctlExit("", "get", "pods", "-n", "kordon-system", "-l", "app.kubernetes.io/name=kordon-adapter", "-o", "json")
	var l struct{ Items []podInfo }
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || len(l.Items) != 1 {
		return podInfo{}, false
	}
	p := l.Items[0]
	ok := p.Status.Phase == "Running" && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
	return p, ok
}

// processOf is the host PID of a running container.
func (n *kubeletNode) processOf(t *testing.T, containerID string) int {
	t.Helper()
	id := strings.TrimPrefix(containerID, "containerd://")
	out, err := exec.Command(n.ctr, "--address", n.socket, "-n", "k8s.io", "tasks", "ls").CombinedOutput()
	if err != nil {
		t.Fatalf("ctr tasks ls: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no task %s in containerd:\n%s", id, out)
	return 0
}

// procStatus reads fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// checkConfinement: the pod is what the manifests ask (non-root,
// RuntimeDefault seccomp, read-only root file system, no privilege
// escalation, no capabilities), and so is the process the kubelet started.
func (n *kubeletNode) checkConfinement(t *testing.T, p podInfo) {
	t.Helper()
	sc, c := p.Spec.SecurityContext, p.Spec.Containers[0].SecurityContext
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.SeccompProfile == nil || sc.SeccompProfile.Type != "RuntimeDefault" ||
		c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation || c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem ||
		strings.Join(c.Capabilities.Drop, ",") != "ALL" {
		t.Fatalf("the pod's security context is not the manifests': %+v %+v", sc, c)
	}
	pid := n.processOf(t, p.Status.ContainerStatuses[0].ContainerID)
	st := procStatus(t, pid)
	want := map[string]string{
		"Uid":        "65532\t65532\t65532\t65532",
		"Gid":        "65532\t65532\t65532\t65532",
		"CapEff":     "0000000000000000",
		"CapPrm":     "0000000000000000",
		"CapBnd":     "0000000000000000",
		"NoNewPrivs": "1",
		"Seccomp":    "2", // a filter: RuntimeDefault is containerd's profile
	}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("the adapter's process %d has %s %q, want %q", pid, k, st[k], v)
		}
	}
	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[4] == "/" {
			if !strings.Contains(","+f[5]+",", ",ro,") {
				t.Errorf("the adapter's root file system is mounted %s, want read-only", f[5])
			}
			return
		}
	}
	t.Errorf("no root mount in the adapter's mountinfo:\n%s", mi)
}

// TestKubeletAdapter runs the adapter the way a cluster does: its image,
// built by hack/image.sh, imported into containerd; `kordon cluster
// manifests` applied with kubectl; a kubelet starting the Deployment's pod.
// The adapter synchronises with the manager, a Service created with
// kubectl reaches a group's members (at the real node's address), the pod
// runs confined as the manifests say, and a deleted pod is replaced by one
// that converges with nothing lost.
func TestKubeletAdapter(t *testing.T) {
	parts := nodeParts(t)
	work := t.TempDir()
	kordonTar, pauseTar := buildImages(t, work)
	n := startNode(t, parts, pauseImage)
	n.importImage(t, pauseTar)
	n.importImage(t, kordonTar)

	dir := t.TempDir()
	s := serve(t, dir, "--no-demo")
	write(t, filepath.Join(dir, "policy.yaml"), clusterPolicy)
	s.run(0, "apply", "-f", "policy.yaml")
	s.run(0, "cluster", "register", "node1", "--bundle-out", "bundle.yaml")
	manifests := s.run(0, "cluster", "manifests", "--bundle", "bundle.yaml", "--image", "localhost/kordon:e2e")

	// What the node lacks, laid over the manifests with kustomize as an
	// operator would: no scheduler (the pod names its node), and no
	// kube-proxy or pod network to reach the API server's Service (the
	// pod uses the host's network and is told the API server's address).
	apply := func(what, objects string, wants ...string) {
		t.Helper()
		kust := filepath.Join(dir, "kustomize")
		os.MkdirAll(kust, 0o755)
		write(t, filepath.Join(kust, "objects.yaml"), objects)
		write(t, filepath.Join(kust, "kustomization.yaml"), fmt.Sprintf(`resources: [objects.yaml]
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: kordon-adapter, namespace: kordon-system}
    spec:
      template:
        spec:
          nodeName: %s
          hostNetwork: true
          containers:
          - name: adapter
            env:
            - {name: KUBERNETES_SERVICE_HOST, value: 127.0.0.1}
            - {name: KUBERNETES_SERVICE_PORT, value: "%s"}
`, n.name, n.apiPort))
		contains(t, what, n.ctl("", "apply", "-k", kust), wants...)
	}
	apply("kubectl apply of kordon cluster manifests", manifests, "namespace/kordon-system created", "deployment.apps/kordon-adapter created")
	available := func(what string) podInfo {
		t.Helper()
		if out, code := n.ctlExit("", "wait", "--for=condition=Available", "deployment/kordon-adapter", "-n", "kordon-system", "--timeout=120s"); code != 0 {
			pods, _ := n.ctlExit("", "describe", "pods", "-n", "kordon-system")
			t.Fatalf("%s: the Deployment is not Available: %s\n%s\n%s", what, out, pods, n.kubelet.tail(40))
		}
		var p podInfo
		waitFor(t, 60*time.Second, what+": one ready adapter pod", func() bool {
			var ok bool
			p, ok = n.adapterPod(t)
			return ok
		})
		return p
	}
	first := available("first start")
	n.checkConfinement(t, first)

	up := func(what string) {
		t.Helper()
		waitFor(t, 60*time.Second, what+": cluster node1 Up", func() bool {
			out := s.run(0, "cluster", "show", "node1")
			// The version is the one hack/image.sh stamped into the image.
			return strings.Contains(out, "state        Up") && strings.Contains(out, "kubernetes   v1.37.2, adapter e2e")
		})
	}
	up("first start")
	nodeIP, code := n.ctlExit("", "get", "node", n.name, "-o", `jsonpath={.status.addresses[?(@.type=="InternalIP")].address}`)
	if code != 0 || nodeIP == "" {
		t.Fatalf("the node has no InternalIP: %s", nodeIP)
	}

	// A NodePort Service resolves to its port on every node: here, the
	// kubelet's own node.
	svc := func(name string, port int) string {
		n.ctl(fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s, namespace: default, labels: {tier: web}}
spec:
  type: NodePort
  selector: {app: %s}
  ports: [{port: 443, targetPort: 8443, nodePort: %d}]
`, name, name, port), "create", "-f", "-")
		return fmt.Sprintf("%s:TCP/%d", nodeIP, port)
	}
	shop := svc("shop", 30443)
	s.converge("a Service created with kubectl", map[string]string{"web": shop, "nodes": nodeIP})

	// The Helm chart takes over the same objects, with a node selector
	// the kubelet must match and other resources: the Deployment is
	// replaced by the chart's, whose adapter converges.
	values := filepath.Join(dir, "values.yaml")
	write(t, values, `image: {repository: localhost/kordon, tag: e2e}
nodeSelector: {kubernetes.io/os: linux}
resources: {requests: {cpu: 20m, memory: 64Mi}, limits: {memory: 256Mi}}
`)
	chart, code := n.helm(t, "template", "kordon-adapter", filepath.Join(repoRoot(t), "deploy", "helm", "kordon-adapter"), "-n", "kordon-system",
		"-f", values, "--set-file", "bundle.content="+filepath.Join(dir, "bundle.yaml"))
	if code != 0 {
		t.Fatalf("helm template: exit %d\n%s", code, chart)
	}
	apply("kubectl apply of the Helm chart", chart, "deployment.apps/kordon-adapter configured")
	var fromChart podInfo
	waitFor(t, 120*time.Second, "the chart's adapter pod", func() bool {
		p, ok := n.adapterPod(t)
		fromChart = p
		return ok && p.Metadata.UID != first.Metadata.UID && p.Spec.NodeSelector["kubernetes.io/os"] == "linux"
	})
	first = available("from the chart")
	n.checkConfinement(t, first)
	up("from the chart")
	if first.Metadata.UID != fromChart.Metadata.UID {
		t.Fatalf("the chart's pod %s was replaced by %s", fromChart.Metadata.Name, first.Metadata.Name)
	}
	// Only the chart's adapter can report a Service created now.
	api := svc("api", 30445)
	s.converge("the chart's adapter", map[string]string{"web": shop + " " + api, "nodes": nodeIP})

	// The pod dies; the Deployment replaces it; the new adapter converges,
	// with what the old one reported and what changed in between (the old
	// one is gone before the Service is created: only the new one can
	// report it).
	n.ctl("", "delete", "pod", first.Metadata.Name, "-n", "kordon-system", "--wait=true", "--timeout=60s")
	cart := svc("cart", 30444)
	second := available("after the pod was deleted")
	if second.Metadata.UID == first.Metadata.UID {
		t.Fatalf("the pod %s was not replaced", first.Metadata.Name)
	}
	n.checkConfinement(t, second)
	up("after the pod was deleted")
	s.converge("after the pod was replaced", map[string]string{"web": shop + " " + api + " " + cart, "nodes": nodeIP})
	if rc := second.Status.ContainerStatuses[0].RestartCount; rc != 0 {
		t.Errorf("the new adapter restarted %d times", rc)
	}

	// The heartbeat after the new adapter's synchronisation says when it
	// synchronised.
	waitFor(t, 30*time.Second, "a heartbeat with the last synchronisation", func() bool {
		for _, line := range strings.Split(s.run(0, "cluster", "show", "node1"), "\n") {
			if strings.HasPrefix(line, "last sync ") {
				return !strings.HasSuffix(strings.TrimSpace(line), " -")
			}
		}
		return false
	})
	t.Logf("kubectl get deploy,pods -n kordon-system:\n%s", n.ctl("", "get", "deploy,pods", "-n", "kordon-system"))
	t.Logf("kordon cluster list:\n%s", s.run(0, "cluster", "list"))
}
