package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const lbYAML = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {type: LoadBalancer, ports: [{port: 443}]}
status: {loadBalancer: {ingress: [{ip: %s}]}}
`

// TestServeInventoryDir serves a kubectl-dump directory and edits it: the
// manager follows without a restart.
func TestServeInventoryDir(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv")
	os.MkdirAll(filepath.Join(inv, "lab"), 0o755)
	svc := filepath.Join(inv, "lab", "svc.yaml")
	os.WriteFile(svc, []byte(strings.Replace(lbYAML, "%s", "192.168.7.1", 1)), 0o644)
	s := serve(t, dir, "--inventory", inv)
	contains(t, "status", s.run(0, "status"), "cluster   lab from inventory-dir")
	doc := filepath.Join(dir, "g.yaml")
	os.WriteFile(doc, []byte(`{"resource_type":"Group","id":"web","expression":[{"resource_type":"Condition","member_type":"KubernetesService","key":"Tag","operator":"EQUALS","value":"dis:k8s:app|web"}]}`), 0o644)
	s.run(0, "apply", "-f", doc)
	contains(t, "members", s.run(0, "members", "web"), "192.168.7.1")
	os.WriteFile(svc, []byte(strings.Replace(lbYAML, "%s", "192.168.7.2", 1)), 0o644)
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := s.run(0, "members", "web")
		if strings.Contains(out, "192.168.7.2") && !strings.Contains(out, "192.168.7.1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edit was not picked up:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	os.RemoveAll(filepath.Join(inv, "lab"))
	os.MkdirAll(filepath.Join(inv, "other"), 0o755)
	deadline = time.Now().Add(20 * time.Second)
	for {
		out := s.run(0, "status")
		if strings.Contains(out, "cluster   other") && !strings.Contains(out, "cluster   lab") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the removed cluster is still served:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Contains(s.run(0, "status"), "DEMO") {
		t.Fatal("a manager serving --inventory shows the demo")
	}
}
