package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// kube is a real kube-apiserver and etcd on loopback (envtest), with the
// Antrea CRDs installed and an administrator's kubeconfig for kubectl.
type kube struct {
	t          testing.TB
	cfg        *rest.Config
	cs         kubernetes.Interface
	dyn        dynamic.Interface
	kubeconfig string
	kubectl    string
}

func startKube(t testing.TB) *kube {
	t.Helper()
	apiserver := k8sBin(t, "kube-apiserver")
	kubectl := k8sBin(t, "kubectl")
	k8sBin(t, "etcd")
	env := &envtest.Environment{
		BinaryAssetsDirectory: filepath.Dir(apiserver),
		CRDDirectoryPaths:     []string{filepath.Join("testdata", "crds")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver: %v", err)
	}
	t.Cleanup(func() { env.Stop() })
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "admin.kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	return &kube{t: t, cfg: cfg, cs: kubernetes.NewForConfigOrDie(cfg), dyn: dynamic.NewForConfigOrDie(cfg), kubeconfig: path, kubectl: kubectl}
}

// ctl runs kubectl as the administrator, with stdin, and returns its
// output; a failure fails the test.
func (k *kube) ctl(stdin string, args ...string) string {
	k.t.Helper()
	out, code := k.ctlExit(stdin, args...)
	if code != 0 {
		k.t.Fatalf("kubectl %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// ctlExit runs kubectl and returns its output and exit code.
func (k *kube) ctlExit(stdin string, args ...string) (string, int) {
	k.t.Helper()
	cmd := exec.Command(k.kubectl, append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		k.t.Fatal(err)
	}
	return out.String(), 0
}

func antrea(version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "crd.antrea.io", Version: version, Resource: resource}
}

var bg = context.Background()
