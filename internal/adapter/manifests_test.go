package adapter

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/kordon-dev/kordon/internal/wire"
)

func TestManifests(t *testing.T) {
	b := wire.Bundle{Cluster: "east", Server: "https://kordon.example:8443", CA: "CA PEM", Cert: "CERT PEM", Key: "KEY PEM"}
	out, err := Manifests(ManifestOptions{Bundle: b, Image: "registry.example/kordon:v1"})
	if err != nil {
		t.Fatal(err)
	}
	docs := bytes.Split(out, []byte("\n---\n"))
	kinds := map[string][]byte{}
	for _, d := range docs[1:] {
		var tm struct{ Kind string }
		if err := yaml.Unmarshal(d, &tm); err != nil {
			t.Fatal(err)
		}
		kinds[tm.Kind] = d
	}
	if len(kinds) != 6 {
		t.Fatalf("kinds: %v", len(kinds))
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(kinds["ClusterRole"], &role); err != nil {
		t.Fatal(err)
	}
	// Exactly read access to what the adapter watches.
	var granted []string
	for _, r := range role.Rules {
		if strings.Join(r.Verbs, ",") != "get,list,watch" {
			t.Errorf("verbs %v", r.Verbs)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				granted = append(granted, g+"/"+res)
			}
		}
	}
	want := "/nodes /namespaces /services /pods networking.k8s.io/ingresses gateway.networking.k8s.io/gateways crd.antrea.io/egresses crd.antrea.io/externalippools crd.antrea.io/ippools"
	if strings.Join(granted, " ") != want {
		t.Fatalf("granted %v", granted)
	}
	var secret corev1.Secret
	if err := yaml.UnmarshalStrict(kinds["Secret"], &secret); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bundle.yaml")
	os.WriteFile(path, []byte(secret.StringData["bundle.yaml"]), 0o600)
	if got, err := wire.ReadBundle(path, wire.ClusterIdentity); err != nil || got != b {
		t.Fatalf("bundle from the Secret: %+v, %v", got, err)
	}
	var dep appsv1.Deployment
	if err := yaml.UnmarshalStrict(kinds["Deployment"], &dep); err != nil {
		t.Fatal(err)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if *dep.Spec.Replicas != 1 || dep.Namespace != "kordon-system" || c.Image != "registry.example/kordon:v1" ||
		strings.Join(c.Args, " ") != "adapter --bundle /etc/kordon/bundle.yaml" || dep.Spec.Template.Spec.ServiceAccountName != "kordon-adapter" {
		t.Fatalf("deployment %+v", dep.Spec)
	}
	if _, err := Manifests(ManifestOptions{Bundle: b}); err == nil {
		t.Fatal("no image accepted")
	}
}
