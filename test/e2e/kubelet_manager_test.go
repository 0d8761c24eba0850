package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// otherNodeRun fails the test when a node of another test process is up on
// this host: the harness's bridge, /run/containerd and kubepods cgroups are
// per host, and two runs would undo each other's. (Within one process the
// kubelet tests run one after the other: none calls t.Parallel.)
func otherNodeRun(t *testing.T) {
	t.Helper()
	for _, pid := range pidsWith(filepath.Join(os.TempDir(), "kordon-node-")) {
		if pid != os.Getpid() {
			t.Fatalf("process %d runs a kordon test node on this host; run the kubelet tests one at a time", pid)
		}
	}
}

// TestKubeletManager runs the manager's Helm chart on the real node: the
// StatefulSet's pod starts `kordon serve` with its data directory on a
// PersistentVolume, becomes Ready on its probes, serves its certificate
// for the Service's names at the pod's address, and the admin token it
// wrote on its volume, and one made with kordon inside the container as
// the chart's NOTES say, authenticate.
func TestKubeletManager(t *testing.T) {
	otherNodeRun(t)
	parts := nodeParts(t)
	work := t.TempDir()
	kordonTar, pauseTar := buildImages(t, work)
	n := startNode(t, parts, pauseImage)
	n.importImage(t, pauseTar)
	n.importImage(t, kordonTar)

	// The node's controller manager runs only what the adapter needs; a
	// StatefulSet needs its controller, and its claim the binder.
	kcm := startDaemon(t, n.dir, "kube-controller-manager-sts", parts["kube-controller-manager"],
		"--kubeconfig", n.kubeconfig, "--controllers", "statefulset-controller,persistentvolume-binder-controller",
		"--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(freePort(t)))
	t.Cleanup(func() { kcm.stop(20 * time.Second) })

	// A hostPath volume below the run's directory (restore removes it),
	// owned by the pod's user: the kubelet applies fsGroup to provisioned
	// volumes, not to a host path.
	vol := filepath.Join(n.dir, "manager-volume")
	if err := os.Mkdir(vol, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(vol, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	n.ctl(fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata: {name: kordon-manager-e2e}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: kordon-e2e-hostpath
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: %s, type: Directory}
`, vol), "create", "-f", "-")
	n.ctl("", "create", "namespace", "kordon-system")

	// The pod shares the host's network (the node has none for pods), so
	// its port is one free on this host, not 8443.
	port := freePort(t)
	dir := t.TempDir()
	values := filepath.Join(dir, "values.yaml")
	write(t, values, fmt.Sprintf(`image: {repository: localhost/kordon, tag: e2e}
port: %d
tlsSANs: [kordon.e2e.example]
persistence: {size: 1Gi, storageClassName: kordon-e2e-hostpath}
nodeSelector: {kubernetes.io/os: linux}
resources: {requests: {cpu: 50m, memory: 128Mi}, limits: {memory: 512Mi}}
`, port))
	rendered, code := n.helm(t, "template", "kordon-manager", filepath.Join(repoRoot(t), "deploy", "helm", "kordon-manager"), "-n", "kordon-system", "-f", values)
	if code != 0 {
		t.Fatalf("helm template: exit %d\n%s", code, rendered)
	}
	kust := filepath.Join(dir, "kustomize")
	os.MkdirAll(kust, 0o755)
	write(t, filepath.Join(kust, "objects.yaml"), rendered)
	write(t, filepath.Join(kust, "kustomization.yaml"), fmt.Sprintf(`resources: [objects.yaml]
patches:
- patch: |-
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: kordon-manager, namespace: kordon-system}
    spec:
      template:
        spec:
          nodeName: %s
          hostNetwork: true
`, n.name))
	contains(t, "kubectl apply of the manager chart", n.ctl("", "apply", "-k", kust), "statefulset.apps/kordon-manager created", "service/kordon-manager created")

	start := time.Now()
	if out, code := n.ctlExit("", "rollout", "status", "statefulset/kordon-manager", "-n", "kordon-system", "--timeout=150s"); code != 0 {
		pods, _ := n.ctlExit("", "describe", "pods,pvc", "-n", "kordon-system")
		t.Fatalf("the StatefulSet is not Ready: %s\n%s\n%s", out, pods, n.kubelet.tail(40))
	}
	t.Logf("StatefulSet ready after %s", time.Since(start).Round(time.Second))
	out := n.ctl("", "get", "pod", "kordon-manager-0", "-n", "kordon-system", "-o", "json")
	var p podInfo
	var ip struct {
		Status struct {
			PodIP string `json:"podIP"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(out), &ip)
	if len(p.Status.ContainerStatuses) != 1 || !p.Status.ContainerStatuses[0].Ready || ip.Status.PodIP == "" {
		t.Fatalf("kordon-manager-0 is not ready with an address:\n%s", out)
	}
	n.checkConfinement(t, p)

	// What serve keeps is on the volume, private to its user.
	data := filepath.Join(vol, "data")
	for _, f := range []string{"seal.key", "admin.token", "client.yaml", "ca.crt", "etcd"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("the data directory on the volume lacks %s: %v", f, err)
		}
	}
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the data directory's mode: %v %v", fi, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(data, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}

	// The pod's address, verified as the Service's name: the chart's
	// --tls-san put it in the certificate.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.crt holds no certificate:\n%s", caPEM)
	}
	addr := net.JoinHostPort(ip.Status.PodIP, strconv.Itoa(port))
	get := func(serverName, path, token string) (int, string) {
		t.Helper()
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName}}}
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s as %s: %v", path, serverName, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, name := range []string{"kordon-manager.kordon-system.svc", "kordon-manager.kordon-system.svc.cluster.local", "kordon.e2e.example"} {
		if code, body := get(name, "/readyz", ""); code != http.StatusOK {
			t.Errorf("/readyz at %s as %s: %d %s", addr, name, code, body)
		}
	}
	if code, body := get("kordon-manager.kordon-system.svc", "/policy/api/v1/kordon/status", ""); code != http.StatusUnauthorized {
		t.Errorf("the status without a token: %d %s", code, body)
	}
	if code, body := get("kordon-manager.kordon-system.svc", "/policy/api/v1/kordon/status", strings.TrimSpace(string(token))); code != http.StatusOK {
		t.Errorf("the status with the admin token from the volume: %d %s", code, body)
	}

	// The NOTES' way to a token: kordon inside the container, with the
	// client configuration serve wrote. kubectl exec cannot reach this
	// node's kubelet (it listens on loopback only, the API server dials
	// the node's address), so the command runs in the container through
	// containerd, as the kubelet's exec would: same user, namespaces and
	// mounts.
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	args := []string{"--address", n.socket, "-n", "k8s.io", "tasks", "exec", "--exec-id", "e2e-token", id,
		"/kordon", "--config", "/var/lib/kordon/data/client.yaml", "token", "create", "e2e-admin", "--role", "admin"}
	b, err := exec.Command(n.ctr, args...).CombinedOutput()
	out = string(b)
	if err != nil {
		t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.Contains(out, "shown once") {
		t.Fatalf("token create printed:\n%s", out)
	}
	if code, body := get("kordon-manager.kordon-system.svc", "/policy/api/v1/kordon/status", strings.TrimSpace(lines[len(lines)-1])); code != http.StatusOK {
		t.Errorf("the status with the token made in the pod: %d %s", code, body)
	}
	// The NOTES' way to the CA for a workstation: kordon ca in the pod
	// prints what the volume holds.
	args = []string{"--address", n.socket, "-n", "k8s.io", "tasks", "exec", "--exec-id", "e2e-ca", id,
		"/kordon", "ca", "--data-dir", "/var/lib/kordon/data"}
	b, err = exec.Command(n.ctr, args...).Output()
	if err != nil {
		t.Fatalf("ctr %s: %v", strings.Join(args, " "), err)
	}
	if string(b) != string(caPEM) {
		t.Errorf("kordon ca in the pod printed:\n%s\nthe volume's ca.crt is:\n%s", b, caPEM)
	}
	t.Logf("kubectl get sts,pods,pvc -n kordon-system:\n%s", n.ctl("", "get", "sts,pods,pvc", "-n", "kordon-system"))
}
