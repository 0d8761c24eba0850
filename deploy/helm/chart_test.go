// Package helm holds kordon's Helm charts; its tests lint, render and
// install them with a real helm and hold the adapter chart to what `kordon
// cluster manifests` prints.
package helm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/kordon-dev/kordon/internal/cli"
	"github.com/kordon-dev/kordon/internal/wire"
)

const chart = "kordon-adapter"

// helmBin finds the helm hack/k8s-test-bins.sh builds beside the
// kube-apiserver ($KUBEBUILDER_ASSETS), else on $PATH. In CI
// (KORDON_REQUIRE_ALL=1) its absence fails the test.
func helmBin(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		if p := filepath.Join(dir, "helm"); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if os.Getenv("KORDON_REQUIRE_ALL") == "1" {
		t.Fatal("helm is missing (KORDON_REQUIRE_ALL=1); hack/test.sh builds it")
	}
	t.Skip("helm is missing; hack/test.sh builds it")
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// helm runs helm with a home of its own (it must not read or write the
// user's repositories and caches, nor ~/.kube/cache) and returns its
// output and exit code.
func helm(t *testing.T, args ...string) (string, int) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helmBin(t), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data",
		"KUBECACHEDIR="+home+"/kube")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String() + errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// bundleFile writes a cluster bundle the way `kordon cluster register`
// does (YAML of wire.Bundle); its key material only has to be there.
func bundleFile(t *testing.T) string {
	t.Helper()
	b := wire.Bundle{Cluster: "prod-east", Server: "https://kordon.example:8443",
		CA:   "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n",
		Cert: "-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n",
		Key:  "-----BEGIN EC PRIVATE KEY-----\na2V5\n-----END EC PRIVATE KEY-----\n"}
	data, err := yaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "prod-east.bundle")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// manifests is what `kordon cluster manifests` prints, run in-process.
func manifests(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	root := cli.NewRoot(&out, &errOut)
	root.SetArgs(append([]string{"cluster", "manifests"}, args...))
	if err := root.Execute(); err != nil {
		t.Fatalf("kordon cluster manifests: %v\n%s", err, errOut.String())
	}
	return out.String()
}

// objects splits a YAML stream into objects by kind/namespace/name.
// Fields that are null or empty say nothing to the API server (a Go
// struct's `status: {}`, a template's absent key), so they are dropped
// before comparing.
func objects(t *testing.T, stream string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, doc := range strings.Split("\n"+stream, "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%v in:\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		m = prune(m).(map[string]any)
		md, _ := m["metadata"].(map[string]any)
		key := fmt.Sprintf("%v/%v/%v", m["kind"], md["namespace"], md["name"])
		if _, dup := out[key]; dup {
			t.Fatalf("%s twice", key)
		}
		out[key] = m
	}
	return out
}

func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e = prune(e); e == nil {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		if len(v) == 0 {
			return nil
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = prune(e)
		}
		if len(v) == 0 {
			return nil
		}
		return v
	}
	return v
}

func keys(m map[string]map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// same fails the test where the two sets of objects differ, showing both
// sides of each differing object.
func same(t *testing.T, got, want map[string]map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(keys(got), keys(want)) {
		t.Fatalf("chart renders %v\nkordon cluster manifests prints %v", keys(got), keys(want))
	}
	for _, k := range keys(want) {
		if !reflect.DeepEqual(got[k], want[k]) {
			g, _ := yaml.Marshal(got[k])
			w, _ := yaml.Marshal(want[k])
			t.Errorf("%s differs\nchart:\n%s\nkordon cluster manifests:\n%s", k, g, w)
		}
	}
}

func TestAdapterChartLints(t *testing.T) {
	bundle := bundleFile(t)
	out, code := helm(t, "lint", "--strict", chart, "--set", "image.repository=registry.example/kordon", "--set-file", "bundle.content="+bundle)
	if code != 0 || !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("helm lint: exit %d\n%s", code, out)
	}
}

// TestAdapterChartIsTheManifests: the chart with a bundle and an image
// renders exactly the objects `kordon cluster manifests` prints for them,
// in another namespace than the default too.
func TestAdapterChartIsTheManifests(t *testing.T) {
	bundle := bundleFile(t)
	for _, ns := range []string{"kordon-system", "platform-kordon"} {
		t.Run(ns, func(t *testing.T) {
			rendered, code := helm(t, "template", "adapter", chart, "-n", ns, "--set", "createNamespace=true",
				"--set", "image.repository=registry.example/kordon", "--set", "image.tag=v1.2.3", "--set-file", "bundle.content="+bundle)
			if code != 0 {
				t.Fatalf("helm template: exit %d\n%s", code, rendered)
			}
			same(t, objects(t, rendered), objects(t, manifests(t, "--bundle", bundle, "--image", "registry.example/kordon:v1.2.3", "--namespace", ns)))
		})
	}
}

// TestAdapterChartValues: without createNamespace the chart leaves the
// namespace to helm; node selector, tolerations, resources and pull
// policy land on the pod and change nothing else; an existing Secret
// replaces the chart's.
func TestAdapterChartValues(t *testing.T) {
	bundle := bundleFile(t)
	want := objects(t, manifests(t, "--bundle", bundle, "--image", "registry.example/kordon:v2"))
	delete(want, "Namespace/<nil>/kordon-system")
	dep := want["Deployment/kordon-system/kordon-adapter"]
	pod := dep["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	pod["nodeSelector"] = map[string]any{"kubernetes.io/os": "linux", "node-role.example/infra": "true"}
	pod["tolerations"] = []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}}
	ctr := pod["containers"].([]any)[0].(map[string]any)
	ctr["resources"] = map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "256Mi"}, "limits": map[string]any{"memory": "512Mi"}}
	ctr["imagePullPolicy"] = "Always"

	values := filepath.Join(t.TempDir(), "values.yaml")
	os.WriteFile(values, []byte(`image: {repository: registry.example/kordon, tag: v2, pullPolicy: Always}
nodeSelector: {kubernetes.io/os: linux, node-role.example/infra: "true"}
tolerations: [{key: dedicated, operator: Equal, value: infra, effect: NoSchedule}]
resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {memory: 512Mi}}
`), 0o600)
	rendered, code := helm(t, "template", "adapter", chart, "-n", "kordon-system", "-f", values, "--set-file", "bundle.content="+bundle)
	if code != 0 {
		t.Fatalf("helm template: exit %d\n%s", code, rendered)
	}
	same(t, objects(t, rendered), want)

	rendered, code = helm(t, "template", "adapter", chart, "-n", "kordon-system", "-f", values, "--set", "bundle.existingSecret=east-bundle")
	if code != 0 {
		t.Fatalf("helm template with an existing Secret: exit %d\n%s", code, rendered)
	}
	delete(want, "Secret/kordon-system/kordon-adapter")
	pod["volumes"].([]any)[0].(map[string]any)["secret"].(map[string]any)["secretName"] = "east-bundle"
	same(t, objects(t, rendered), want)
}

// TestAdapterChartRefuses: no bundle, or no image, is an error that says
// what to give, not an adapter that crashes in the cluster.
func TestAdapterChartRefuses(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "image.repository=registry.example/kordon"}, "bundle.content"},
		{[]string{"--set", "bundle.content=x"}, "image.repository"},
	} {
		out, code := helm(t, append([]string{"template", "adapter", chart}, c.args...)...)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("helm template %v: exit %d, want a failure naming %s\n%s", c.args, code, c.want, out)
		}
	}
}

// apiServer starts a kube-apiserver (no kubelet) and returns an admin
// kubeconfig file for helm and a client for the checks.
func apiServer(t *testing.T) (string, kubernetes.Interface) {
	t.Helper()
	helmBin(t)
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if !fileExists(filepath.Join(assets, "kube-apiserver")) || !fileExists(filepath.Join(assets, "etcd")) {
		if os.Getenv("KORDON_REQUIRE_ALL") == "1" {
			t.Fatal("kube-apiserver is missing (KORDON_REQUIRE_ALL=1); hack/test.sh builds it")
		}
		t.Skip("kube-apiserver is missing; hack/test.sh builds it")
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
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
	kubeconfig := filepath.Join(t.TempDir(), "admin.kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig, kubernetes.NewForConfigOrDie(cfg)
}

// TestAdapterChartInstalls runs the README's `helm install` against a real
// kube-apiserver (no kubelet: test/e2e's TestKubeletAdapter runs the pod),
// checks what it created, and that `helm uninstall` takes it all back.
func TestAdapterChartInstalls(t *testing.T) {
	kubeconfig, cs := apiServer(t)
	ctx := t.Context()

	bundle := bundleFile(t)
	out, code := helm(t, "install", "kordon-adapter", chart, "-n", "kordon-system", "--create-namespace", "--kubeconfig", kubeconfig,
		"--set", "image.repository=registry.example.net/kordon", "--set", "image.tag=v1", "--set-file", "bundle.content="+bundle)
	if code != 0 || !strings.Contains(out, "STATUS: deployed") {
		t.Fatalf("helm install: exit %d\n%s", code, out)
	}
	dep, err := cs.AppsV1().Deployments("kordon-system").Get(ctx, "kordon-adapter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != "registry.example.net/kordon:v1" {
		t.Errorf("the installed Deployment runs %s", img)
	}
	sec, err := cs.CoreV1().Secrets("kordon-system").Get(ctx, "kordon-adapter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := os.ReadFile(bundle); string(sec.Data["bundle.yaml"]) != string(want) {
		t.Errorf("the installed Secret holds another bundle:\n%s", sec.Data["bundle.yaml"])
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "kordon-adapter", metav1.GetOptions{}); err != nil {
		t.Error(err)
	}

	if out, code := helm(t, "uninstall", "kordon-adapter", "-n", "kordon-system", "--kubeconfig", kubeconfig); code != 0 {
		t.Fatalf("helm uninstall: exit %d\n%s", code, out)
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, "kordon-adapter", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after helm uninstall the ClusterRole is still there (%v)", err)
	}
	if _, err := cs.CoreV1().Secrets("kordon-system").Get(ctx, "kordon-adapter", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after helm uninstall the Secret is still there (%v)", err)
	}
}

const managerChart = "kordon-manager"

// managerObjects renders the manager chart and fails on an error.
func managerObjects(t *testing.T, args ...string) map[string]map[string]any {
	t.Helper()
	rendered, code := helm(t, append([]string{"template", "kordon-manager", managerChart}, args...)...)
	if code != 0 {
		t.Fatalf("helm template %v: exit %d\n%s", args, code, rendered)
	}
	return objects(t, rendered)
}

// at walks a rendered object by map keys and list indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("no %q in %v", p, v)
			}
			v = m[p]
		case int:
			l, ok := v.([]any)
			if !ok || p >= len(l) {
				t.Fatalf("no [%d] in %v", p, v)
			}
			v = l[p]
		}
	}
	return v
}

// fields makes a path for at from a space-separated one; numbers are
// list indexes.
func fields(path string) []any {
	var p []any
	for _, f := range strings.Fields(path) {
		if i, err := strconv.Atoi(f); err == nil {
			p = append(p, i)
		} else {
			p = append(p, f)
		}
	}
	return p
}

func TestManagerChartLints(t *testing.T) {
	out, code := helm(t, "lint", "--strict", managerChart, "--set", "image.repository=registry.example/kordon")
	if code != 0 || !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("helm lint: exit %d\n%s", code, out)
	}
}

// TestManagerChartRenders: one manager on its claim, with the embedded
// etcd, no demo, listening beyond loopback with the Service's names in its
// certificate, confined like the adapter, probed over HTTPS; values reach
// the pod and the claim.
func TestManagerChartRenders(t *testing.T) {
	values := filepath.Join(t.TempDir(), "values.yaml")
	os.WriteFile(values, []byte(`image: {repository: registry.example/kordon, tag: v2, pullPolicy: Always}
port: 9443
tlsSANs: [kordon.example.net, 192.0.2.10]
persistence: {size: 20Gi, storageClassName: fast}
extraArgs: [--log-format, json]
nodeSelector: {node-role.example/infra: "true"}
tolerations: [{key: dedicated, operator: Equal, value: infra, effect: NoSchedule}]
resources: {requests: {cpu: 200m, memory: 512Mi}, limits: {memory: 1Gi}}
`), 0o600)
	objs := managerObjects(t, "-n", "platform-kordon", "-f", values)
	if got, want := keys(objs), []string{"Service/platform-kordon/kordon-manager", "StatefulSet/platform-kordon/kordon-manager"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("the chart renders %v, want %v", got, want)
	}
	sts := objs["StatefulSet/platform-kordon/kordon-manager"]
	if r := at(t, sts, "spec", "replicas"); r != float64(1) {
		t.Errorf("replicas %v, want 1: the embedded etcd takes one manager", r)
	}
	pod := at(t, sts, "spec", "template", "spec")
	ctr := at(t, pod, "containers", 0)
	args := fmt.Sprint(at(t, ctr, "args"))
	for _, want := range []string{
		"serve --no-demo --data-dir /var/lib/kordon/data --listen 0.0.0.0:9443",
		"--tls-san kordon-manager --tls-san kordon-manager.platform-kordon --tls-san kordon-manager.platform-kordon.svc --tls-san kordon-manager.platform-kordon.svc.cluster.local --tls-san kordon.example.net --tls-san 192.0.2.10",
		"--log-format json",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("the manager's args %s lack %q", args, want)
		}
	}
	if strings.Contains(args, "--etcd-endpoints") || strings.Contains(args, "--seal-key") {
		t.Errorf("the manager's args %s: the chart runs the embedded etcd with the data directory's seal key", args)
	}
	for path, want := range map[string]any{
		"image":           "registry.example/kordon:v2",
		"imagePullPolicy": "Always",
		"securityContext allowPrivilegeEscalation": false,
		"securityContext readOnlyRootFilesystem":   true,
		"securityContext capabilities drop 0":      "ALL",
		"ports 0 containerPort":                    float64(9443),
		"readinessProbe httpGet path":              "/readyz",
		"readinessProbe httpGet scheme":            "HTTPS",
		"livenessProbe httpGet path":               "/healthz",
		"livenessProbe httpGet scheme":             "HTTPS",
		"resources limits memory":                  "1Gi",
		"volumeMounts 0 mountPath":                 "/var/lib/kordon",
		"volumeMounts 1 mountPath":                 "/tmp",
	} {
		if got := at(t, ctr, fields(path)...); got != want {
			t.Errorf("container %s = %v, want %v", path, got, want)
		}
	}
	for path, want := range map[string]any{
		"securityContext runAsNonRoot":         true,
		"securityContext runAsUser":            float64(65532),
		"securityContext runAsGroup":           float64(65532),
		"securityContext fsGroup":              float64(65532),
		"securityContext seccompProfile type":  "RuntimeDefault",
		"automountServiceAccountToken":         false,
		"nodeSelector node-role.example/infra": "true",
		"tolerations 0 value":                  "infra",
	} {
		if got := at(t, pod, fields(path)...); got != want {
			t.Errorf("pod %s = %v, want %v", path, got, want)
		}
	}
	claim := at(t, sts, "spec", "volumeClaimTemplates", 0)
	if at(t, claim, "metadata", "name") != "data" || at(t, claim, "spec", "storageClassName") != "fast" || at(t, claim, "spec", "resources", "requests", "storage") != "20Gi" {
		t.Errorf("the claim template: %v", claim)
	}
	svc := objs["Service/platform-kordon/kordon-manager"]
	if at(t, svc, "spec", "type") != "ClusterIP" || at(t, svc, "spec", "ports", 0, "port") != float64(9443) || at(t, svc, "spec", "ports", 0, "targetPort") != "https" {
		t.Errorf("the Service: %v", svc)
	}
	if !reflect.DeepEqual(at(t, svc, "spec", "selector"), at(t, sts, "spec", "template", "metadata", "labels")) {
		t.Errorf("the Service selects %v, the pod is labelled %v", at(t, svc, "spec", "selector"), at(t, sts, "spec", "template", "metadata", "labels"))
	}

	// Defaults: 8443, the default StorageClass (no class named).
	sts = managerObjects(t, "-n", "kordon-system", "--set", "image.repository=registry.example/kordon")["StatefulSet/kordon-system/kordon-manager"]
	if args := fmt.Sprint(at(t, sts, "spec", "template", "spec", "containers", 0, "args")); !strings.Contains(args, "--listen 0.0.0.0:8443") {
		t.Errorf("default args %s", args)
	}
	if c := at(t, sts, "spec", "volumeClaimTemplates", 0, "spec", "storageClassName"); c != nil {
		t.Errorf("default storageClassName %v, want none (the cluster's default)", c)
	}
}

// TestManagerChartRefuses: no image is an error naming the value.
func TestManagerChartRefuses(t *testing.T) {
	out, code := helm(t, "template", "kordon-manager", managerChart)
	if code == 0 || !strings.Contains(out, "image.repository") {
		t.Errorf("helm template without an image: exit %d, want a failure naming image.repository\n%s", code, out)
	}
}

// TestManagerChartInstalls runs the README's `helm install` of the manager
// against a real kube-apiserver (no kubelet: test/e2e's TestKubeletManager
// runs the pod) and `helm uninstall` after it.
func TestManagerChartInstalls(t *testing.T) {
	kubeconfig, cs := apiServer(t)
	ctx := t.Context()
	out, code := helm(t, "install", "kordon-manager", managerChart, "-n", "kordon-system", "--create-namespace", "--kubeconfig", kubeconfig,
		"--set", "image.repository=registry.example.net/kordon", "--set", "image.tag=v1")
	if code != 0 || !strings.Contains(out, "STATUS: deployed") || !strings.Contains(out, "token create alice --role admin") {
		t.Fatalf("helm install: exit %d\n%s", code, out)
	}
	sts, err := cs.AppsV1().StatefulSets("kordon-system").Get(ctx, "kordon-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := sts.Spec.Template.Spec.Containers[0].Image; img != "registry.example.net/kordon:v1" {
		t.Errorf("the installed StatefulSet runs %s", img)
	}
	if _, err := cs.CoreV1().Services("kordon-system").Get(ctx, "kordon-manager", metav1.GetOptions{}); err != nil {
		t.Error(err)
	}
	if out, code := helm(t, "uninstall", "kordon-manager", "-n", "kordon-system", "--kubeconfig", kubeconfig); code != 0 {
		t.Fatalf("helm uninstall: exit %d\n%s", code, out)
	}
	if _, err := cs.AppsV1().StatefulSets("kordon-system").Get(ctx, "kordon-manager", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after helm uninstall the StatefulSet is still there (%v)", err)
	}
}
