package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// A real node: kube-apiserver and etcd (envtest), kube-controller-manager,
// containerd with runc, and a kubelet, all started by the test on this
// host. Running a kubelet changes the host (cgroups, mounts, sysctls,
// /run/containerd, /var/log/containers), so hostChanges records what was
// there before and puts it back.

// repoRoot is the module's root, where hack/image.sh is.
func repoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// daemon is a process the test started; it is stopped by its PID.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startDaemon(t testing.TB, dir, name string, argv ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = f, f
	if err := d.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { d.cmd.Wait(); f.Close(); close(d.done) }()
	return d
}

func (d *daemon) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and, after grace, SIGKILL.
func (d *daemon) stop(grace time.Duration) {
	if !d.running() {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(grace):
		d.cmd.Process.Kill()
		<-d.done
	}
}

// tail is the end of the daemon's log, for failure messages.
func (d *daemon) tail(n int) string {
	b, _ := os.ReadFile(d.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return d.name + " log:\n" + strings.Join(lines, "\n")
}

// The sysctls a kubelet sets when protectKernelDefaults is off, and two it
// may raise on some releases.
var kubeletSysctls = []string{"kernel/panic", "kernel/panic_on_oops", "vm/overcommit_memory", "vm/panic_on_oom", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

// hostChanges is the part of the host a node run touches, as it was.
type hostChanges struct {
	t       testing.TB
	dir     string // everything of the run (state, sockets, logs) is under it
	sysctls map[string]string
	cgroups map[string]bool // cgroup directories that existed
	existed map[string]bool // host directories that existed
	bridge  string
	hadBr   bool
	ruleset string // nft list ruleset, where nft is installed
}

var hostDirs = []string{"/run/containerd", "/var/log/containers", "/var/log/pods"}

func recordHost(t testing.TB, dir, bridge string) *hostChanges {
	h := &hostChanges{t: t, dir: dir, sysctls: map[string]string{}, cgroups: map[string]bool{}, existed: map[string]bool{}, bridge: bridge}
	for _, s := range kubeletSysctls {
		if b, err := os.ReadFile("/proc/sys/" + s); err == nil {
			h.sysctls[s] = strings.TrimSpace(string(b))
		}
	}
	for _, c := range h.kubepodsCgroups() {
		h.cgroups[c] = true
	}
	for _, d := range hostDirs {
		_, err := os.Lstat(d)
		h.existed[d] = err == nil
	}
	_, err := os.Stat("/sys/class/net/" + bridge)
	h.hadBr = err == nil
	h.ruleset = ruleset()
	return h
}

// ruleset is the host's firewall (iptables-nft writes there too), or ""
// without nft.
func ruleset() string {
	out, err := exec.Command("nft", "list", "ruleset").Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// kubepodsCgroups are the kubelet's cgroup trees in every hierarchy.
func (h *hostChanges) kubepodsCgroups() []string {
	var out []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, r := range roots {
		if p := filepath.Join(r, "kubepods"); isDir(p) {
			out = append(out, p)
		}
	}
	return out
}

func isDir(p string) bool { fi, err := os.Stat(p); return err == nil && fi.IsDir() }

// mountsUnder lists mount points below any of the prefixes, deepest first.
func mountsUnder(prefixes ...string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		for _, p := range prefixes {
			if mp == p || strings.HasPrefix(mp, p+"/") {
				out = append(out, mp)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// pidsWith are the processes whose command line mentions s (the shims of
// our containerd name its socket).
func pidsWith(s string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(s)) {
			out = append(out, pid)
		}
	}
	return out
}

// restore undoes what the run left: processes that still name its
// directory, mounts below it and below directories the run created, the
// kubelet's cgroups, the bridge, sysctls and directories it created. What
// cannot be undone is an error of the test.
func (h *hostChanges) restore() {
	t := h.t
	for _, pid := range pidsWith(h.dir) {
		t.Logf("killing leftover process %d", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	prefixes := []string{h.dir}
	for _, d := range hostDirs {
		if !h.existed[d] {
			prefixes = append(prefixes, d)
		}
	}
	for i := 0; i < 3; i++ {
		ms := mountsUnder(prefixes...)
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
				t.Logf("umount %s: %v", m, err)
			}
		}
	}
	if ms := mountsUnder(prefixes...); len(ms) > 0 {
		t.Errorf("mounts left behind: %v", ms)
	}
	for _, c := range h.kubepodsCgroups() {
		if !h.cgroups[c] {
			removeCgroupTree(t, c)
		}
	}
	if !h.hadBr {
		if _, err := os.Stat("/sys/class/net/" + h.bridge); err == nil {
			if out, err := exec.Command("ip", "link", "del", h.bridge).CombinedOutput(); err != nil {
				t.Errorf("ip link del %s: %v %s", h.bridge, err, out)
			}
		}
	}
	for s, v := range h.sysctls {
		if b, err := os.ReadFile("/proc/sys/" + s); err == nil && strings.TrimSpace(string(b)) != v {
			if err := os.WriteFile("/proc/sys/"+s, []byte(v), 0o644); err != nil {
				t.Errorf("restoring %s to %s: %v", s, v, err)
			} else {
				t.Logf("sysctl %s restored to %s (the kubelet had set %s)", s, v, strings.TrimSpace(string(b)))
			}
		}
	}
	if now := ruleset(); now != h.ruleset {
		t.Errorf("the host's firewall changed during the run; before:\n%s\nafter:\n%s", h.ruleset, now)
	}
	for _, d := range hostDirs {
		if !h.existed[d] {
			if err := os.RemoveAll(d); err != nil {
				t.Errorf("removing %s: %v", d, err)
			}
		} else if d == "/var/log/containers" {
			// The kubelet links its containers' logs here; ours point
			// into the run's directory.
			links, _ := filepath.Glob(filepath.Join(d, "*"))
			for _, l := range links {
				if dst, err := os.Readlink(l); err == nil && strings.HasPrefix(dst, h.dir) {
					os.Remove(l)
				}
			}
		}
	}
}

// removeCgroupTree removes a cgroup directory and its children, deepest
// first; a cgroup can only go once its processes have.
func removeCgroupTree(t testing.TB, root string) {
	var dirs []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		var err error
		for i := 0; i < 50; i++ {
			if err = syscall.Rmdir(d); err == nil || os.IsNotExist(err) {
				err = nil
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("cgroup %s left behind: %v", d, err)
		}
	}
}

// node is a one-node cluster whose kubelet runs pods on containerd.
type kubeletNode struct {
	*kube
	name       string
	dir        string
	containerd *daemon
	kubelet    *daemon
	kcm        *daemon
	socket     string
	ctr        string
	helmBin    string
	apiPort    string
}

// nodeParts finds every binary a node needs; a missing one skips the test
// (or fails it under KORDON_REQUIRE_ALL=1).
func nodeParts(t testing.TB) map[string]string {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "root (a kubelet and containerd)")
	}
	p := map[string]string{}
	for _, n := range []string{"kube-apiserver", "etcd", "kubectl", "kubelet", "kube-controller-manager", "helm"} {
		p[n] = k8sBin(t, n)
	}
	for _, n := range []string{"containerd", "ctr", "runc", "ip"} {
		path, err := exec.LookPath(n)
		if err != nil {
			missing(t, n+" (Debian: containerd, runc, iproute2)")
		}
		p[n] = path
	}
	for _, n := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", n)); err != nil {
			missing(t, "CNI plugin "+n+" (Debian: containernetworking-plugins)")
		}
	}
	return p
}

// importImage imports an OCI layout tar into the node's containerd.
func (n *kubeletNode) importImage(t testing.TB, tarPath string) {
	t.Helper()
	out, err := exec.Command(n.ctr, "--address", n.socket, "-n", "k8s.io", "images", "import", "--platform", "linux/"+runtime.GOARCH, tarPath).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr images import %s: %v\n%s", tarPath, err, out)
	}
}

// crictl-less cleanup: whatever containers the kubelet left in containerd
// are killed and removed through ctr before containerd stops.
func (n *kubeletNode) removeContainers(t testing.TB) {
	ctr := func(args ...string) string {
		out, _ := exec.Command(n.ctr, append([]string{"--address", n.socket, "-n", "k8s.io"}, args...)...).CombinedOutput()
		return string(out)
	}
	for _, id := range strings.Fields(ctr("tasks", "ls", "-q")) {
		ctr("tasks", "kill", "-s", "SIGKILL", id)
	}
	for _, id := range strings.Fields(ctr("tasks", "ls", "-q")) {
		for i := 0; i < 50; i++ {
			if out := ctr("tasks", "delete", "-f", id); !strings.Contains(out, "running") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, id := range strings.Fields(ctr("containers", "ls", "-q")) {
		ctr("containers", "rm", id)
	}
}

// startNode starts containerd, kube-apiserver and etcd, the
// kube-controller-manager (Deployments, ReplicaSets, service accounts and
// the cluster CA ConfigMap) and a kubelet, and waits for the node to be
// Ready.
func startNode(t *testing.T, parts map[string]string, pauseImage string) *kubeletNode {
	t.Helper()
	// A short directory: containerd's sockets live below it, and a Unix
	// socket's path is limited to 107 bytes.
	dir, err := os.MkdirTemp("", "kordon-node-")
	if err != nil {
		t.Fatal(err)
	}
	const bridge = "kordone2e0"
	host := recordHost(t, dir, bridge)
	n := &kubeletNode{name: "kordon-e2e-node", dir: dir, socket: filepath.Join(dir, "containerd.sock"), ctr: parts["ctr"], helmBin: parts["helm"]}
	t.Cleanup(func() {
		// The logs go with dir: show the ends of them when something failed.
		if t.Failed() {
			for _, d := range []*daemon{n.containerd, n.kcm, n.kubelet} {
				if d != nil {
					t.Log(d.tail(30))
				}
			}
		}
		host.restore()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	})

	// containerd, everything of it below dir. restrict_oom_score_adj:
	// root here lacks CAP_SYS_RESOURCE, and runc fails to lower a
	// container's oom_score_adj otherwise.
	for _, d := range []string{"cni", "cni-ipam", "containerd-root", "containerd-state", "containerd-opt", "kubelet", "pod-logs", "volume-plugins"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The adapter's pod uses the host's network, but containerd reports
	// the pod network ready (and the kubelet its node Ready) only with a
	// CNI configuration; a pod on it would get the bridge restore removes.
	write(t, filepath.Join(dir, "cni", "10-kordon-e2e.conflist"), fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "kordon-e2e", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.77.0/24"}]], "dataDir": %q}}]}`, bridge, filepath.Join(dir, "cni-ipam")))
	write(t, filepath.Join(dir, "containerd.toml"), fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
`, filepath.Join(dir, "containerd-root"), filepath.Join(dir, "containerd-state"), n.socket, filepath.Join(dir, "containerd-opt"),
		pauseImage, parts["runc"], filepath.Join(dir, "cni")))
	n.containerd = startDaemon(t, dir, "containerd", parts["containerd"], "--config", filepath.Join(dir, "containerd.toml"))
	t.Cleanup(func() {
		n.removeContainers(t)
		n.containerd.stop(20 * time.Second)
		// The shims outlive containerd; they name its socket.
		for _, pid := range pidsWith(n.socket) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	waitFor(t, 30*time.Second, "containerd's socket", func() bool {
		if !n.containerd.running() {
			t.Fatalf("containerd exited\n%s", n.containerd.tail(30))
		}
		return exec.Command(n.ctr, "--address", n.socket, "version").Run() == nil
	})

	// kube-apiserver: without kube-proxy and DNS, it keeps no endpoints
	// of its own and reaches the kubelet at its node's address; the
	// ServiceAccount admission plugin (envtest turns it off) mounts the
	// adapter's token.
	env := &envtest.Environment{BinaryAssetsDirectory: filepath.Dir(parts["kube-apiserver"]),
		CRDDirectoryPaths: []string{filepath.Join("testdata", "crds")}, ErrorIfCRDPathMissing: true}
	env.ControlPlane.GetAPIServer().Configure().
		Set("endpoint-reconciler-type", "none").
		Set("kubelet-preferred-address-types", "InternalIP").
		Disable("disable-admission-plugins")
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver: %v", err)
	}
	t.Cleanup(func() { env.Stop() })
	n.apiPort = env.ControlPlane.APIServer.SecureServing.Port
	kubeconfig := func(name string, groups ...string) string {
		user, err := env.ControlPlane.AddUser(envtest.User{Name: name, Groups: groups}, nil)
		if err != nil {
			t.Fatal(err)
		}
		kc, err := user.KubeConfig()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, strings.ReplaceAll(name, ":", "-")+".kubeconfig")
		write(t, p, string(kc))
		return p
	}
	admin := kubeconfig("admin", "system:masters")
	cfg.QPS, cfg.Burst = 100, 200
	n.kube = &kube{t: t, cfg: cfg, cs: kubernetes.NewForConfigOrDie(cfg), kubeconfig: admin, kubectl: parts["kubectl"]}
	caFile := filepath.Join(dir, "cluster-ca.crt")
	write(t, caFile, string(cfg.CAData))

	n.kcm = startDaemon(t, dir, "kube-controller-manager", parts["kube-controller-manager"],
		"--kubeconfig", kubeconfig("system:kube-controller-manager", "system:masters"),
		"--controllers", "deployment-controller,replicaset-controller,serviceaccount-controller,root-ca-certificate-publisher-controller",
		"--root-ca-file", caFile, "--use-service-account-credentials=false", "--leader-elect=false",
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(freePort(t)))
	t.Cleanup(func() { n.kcm.stop(20 * time.Second) })

	// The kubelet. The system:masters group spares the test the node
	// authorizer's bootstrap; its own API listens on loopback only, and it
	// writes no iptables chains (the host's firewall is not the test's).
	// Image garbage collection is off (the imported images cannot be
	// pulled back) and eviction thresholds are low (a full disk of a
	// build machine must not evict the adapter).
	write(t, filepath.Join(dir, "kubelet.yaml"), fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%s
address: 127.0.0.1
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 1Mi, nodefs.available: 1%%, imagefs.available: 1%%, nodefs.inodesFree: 1%%}
makeIPTablesUtilChains: false
podLogsDir: %s
volumePluginDir: %s
`, n.socket, freePort(t), freePort(t), filepath.Join(dir, "pod-logs"), filepath.Join(dir, "volume-plugins")))
	n.kubelet = startDaemon(t, dir, "kubelet", parts["kubelet"], "--config", filepath.Join(dir, "kubelet.yaml"),
		"--kubeconfig", kubeconfig("system:node:"+n.name, "system:nodes", "system:masters"),
		"--root-dir", filepath.Join(dir, "kubelet"), "--hostname-override", n.name, "--v", "2")
	t.Cleanup(func() { n.kubelet.stop(30 * time.Second) })

	waitFor(t, 120*time.Second, "the node to be Ready", func() bool {
		if !n.kubelet.running() {
			t.Fatalf("kubelet exited\n%s", n.kubelet.tail(40))
		}
		if !n.kcm.running() {
			t.Fatalf("kube-controller-manager exited\n%s", n.kcm.tail(40))
		}
		out, code := n.ctlExit("", "get", "node", n.name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		return code == 0 && out == "True"
	})
	return n
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
