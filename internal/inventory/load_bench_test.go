package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// writeScaleDump writes, per cluster, what `kubectl get -o yaml` prints
// for the kinds of benchdata's scale (nodes, services, pods, Egresses),
// with the fields a real dump carries (managedFields, container specs,
// status conditions); each file is one List.
func writeScaleDump(tb testing.TB, dir string, clusters, nodes, services, pods, egresses int) (objects int) {
	tb.Helper()
	writeMeta := func(b *strings.Builder, indent int, name, ns string, labels map[string]string) {
		p := strings.Repeat(" ", indent)
		fmt.Fprintf(b, "%smetadata:\n", p)
		fmt.Fprintf(b, "%s  annotations:\n%s    kubectl.kubernetes.io/last-applied-configuration: '{\"apiVersion\":\"v1\",\"kind\":\"Thing\",\"metadata\":{\"name\":\"%s\"}}'\n", p, p, name)
		fmt.Fprintf(b, "%s  creationTimestamp: \"2024-05-01T10:00:00Z\"\n", p)
		if len(labels) > 0 {
			fmt.Fprintf(b, "%s  labels:\n", p)
			for k, v := range labels {
				fmt.Fprintf(b, "%s    %s: %s\n", p, k, v)
			}
		}
		fmt.Fprintf(b, "%s  managedFields:\n%s  - apiVersion: v1\n%s    fieldsType: FieldsV1\n%s    fieldsV1:\n%s      f:metadata:\n%s        f:labels:\n%s          .: {}\n%s    manager: kubectl\n%s    operation: Update\n%s    time: \"2024-05-01T10:00:00Z\"\n", p, p, p, p, p, p, p, p, p, p)
		fmt.Fprintf(b, "%s  name: %s\n", p, name)
		if ns != "" {
			fmt.Fprintf(b, "%s  namespace: %s\n", p, ns)
		}
		fmt.Fprintf(b, "%s  resourceVersion: \"12345\"\n%s  uid: 0f9a8b7c-1234-4d5e-8f90-%012d\n", p, p, len(name))
	}
	list := func(body func(b *strings.Builder)) string {
		var b strings.Builder
		b.WriteString("apiVersion: v1\nitems:\n")
		body(&b)
		b.WriteString("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
		return b.String()
	}
	for c := 0; c < clusters; c++ {
		cdir := filepath.Join(dir, fmt.Sprintf("cluster-%03d", c))
		if err := os.MkdirAll(cdir, 0o755); err != nil {
			tb.Fatal(err)
		}
		files := map[string]string{
			"nodes.yaml": list(func(b *strings.Builder) {
				for n := 0; n < nodes; n++ {
					b.WriteString("- apiVersion: v1\n  kind: Node\n")
					writeMeta(b, 2, fmt.Sprintf("node-%03d", n), "", map[string]string{"zone": fmt.Sprintf("z%d", n%3), "kubernetes.io/os": "linux"})
					fmt.Fprintf(b, "  spec:\n    podCIDR: 100.%d.%d.0/24\n    podCIDRs:\n    - 100.%d.%d.0/24\n", c, n, c, n)
					fmt.Fprintf(b, "  status:\n    addresses:\n    - address: 10.%d.0.%d\n      type: InternalIP\n    - address: node-%03d\n      type: Hostname\n    capacity:\n      cpu: \"8\"\n      memory: 32Gi\n    conditions:\n    - lastHeartbeatTime: \"2024-05-01T10:00:00Z\"\n      message: kubelet is posting ready status\n      reason: KubeletReady\n      status: \"True\"\n      type: Ready\n    nodeInfo:\n      kubeletVersion: v1.30.1\n      osImage: Ubuntu 22.04.4 LTS\n", c, n+1, n)
				}
			}),
			"services.yaml": list(func(b *strings.Builder) {
				for i := 0; i < services; i++ {
					b.WriteString("- apiVersion: v1\n  kind: Service\n")
					writeMeta(b, 2, fmt.Sprintf("svc-%04d", i), fmt.Sprintf("ns-%02d", i%20), map[string]string{"app": fmt.Sprintf("app-%02d", i%40)})
					typ := []string{"ClusterIP", "LoadBalancer", "NodePort"}[i%3]
					fmt.Fprintf(b, "  spec:\n    clusterIP: 10.96.%d.%d\n    clusterIPs:\n    - 10.96.%d.%d\n    internalTrafficPolicy: Cluster\n    ipFamilies:\n    - IPv4\n    ipFamilyPolicy: SingleStack\n    ports:\n    - name: http\n", i/250, i%250+1, i/250, i%250+1)
					if typ != "ClusterIP" {
						fmt.Fprintf(b, "      nodePort: %d\n", 30000+i%2000)
					}
					fmt.Fprintf(b, "      port: 80\n      protocol: TCP\n      targetPort: 8080\n    selector:\n      app: app-%02d\n    sessionAffinity: None\n    type: %s\n  status:\n    loadBalancer:", i%40, typ)
					if typ == "LoadBalancer" {
						fmt.Fprintf(b, "\n      ingress:\n      - ip: 40.%d.%d.%d\n        ipMode: VIP\n", c, i/250, i%250+1)
					} else {
						b.WriteString(" {}\n")
					}
				}
			}),
			"pods.yaml": list(func(b *strings.Builder) {
				for i := 0; i < pods; i++ {
					b.WriteString("- apiVersion: v1\n  kind: Pod\n")
					writeMeta(b, 2, fmt.Sprintf("pod-%04d", i), fmt.Sprintf("ns-%02d", i%20), map[string]string{"app": fmt.Sprintf("app-%02d", i%40), "pod-template-hash": "5f8b9c7d6"})
					fmt.Fprintf(b, "  spec:\n    containers:\n    - image: registry.example.com/app:1.2.3\n      imagePullPolicy: IfNotPresent\n      name: app\n      ports:\n      - containerPort: 8080\n        name: http\n        protocol: TCP\n      resources:\n        limits:\n          memory: 256Mi\n        requests:\n          cpu: 100m\n      terminationMessagePath: /dev/termination-log\n      volumeMounts:\n      - mountPath: /var/run/secrets/kubernetes.io/serviceaccount\n        name: kube-api-access\n        readOnly: true\n    dnsPolicy: ClusterFirst\n    nodeName: node-%03d\n    restartPolicy: Always\n    schedulerName: default-scheduler\n    serviceAccountName: default\n", i%nodes)
					fmt.Fprintf(b, "  status:\n    conditions:\n    - lastTransitionTime: \"2024-05-01T10:00:00Z\"\n      status: \"True\"\n      type: Ready\n    - lastTransitionTime: \"2024-05-01T10:00:00Z\"\n      status: \"True\"\n      type: PodScheduled\n    containerStatuses:\n    - containerID: containerd://%064d\n      image: registry.example.com/app:1.2.3\n      name: app\n      ready: true\n      restartCount: 0\n      started: true\n      state:\n        running:\n          startedAt: \"2024-05-01T10:00:01Z\"\n    hostIP: 10.%d.0.%d\n    phase: Running\n    podIP: 100.%d.%d.%d\n    podIPs:\n    - ip: 100.%d.%d.%d\n    qosClass: Burstable\n    startTime: \"2024-05-01T10:00:00Z\"\n",
						i, c, i%nodes+1, c, i%nodes, i/nodes+2, c, i%nodes, i/nodes+2)
				}
			}),
			"egresses.yaml": list(func(b *strings.Builder) {
				for i := 0; i < egresses; i++ {
					b.WriteString("- apiVersion: crd.antrea.io/v1beta1\n  kind: Egress\n")
					writeMeta(b, 2, fmt.Sprintf("egress-%02d", i), "", map[string]string{"purpose": fmt.Sprintf("p%d", i%10)})
					fmt.Fprintf(b, "  spec:\n    appliedTo:\n      podSelector:\n        matchLabels:\n          app: app-%02d\n    egressIP: 10.%d.200.%d\n  status:\n    egressIP: 10.%d.200.%d\n    egressNode: node-001\n", i%40, c, i+1, c, i+1)
				}
			}),
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(cdir, name), []byte(text), 0o644); err != nil {
				tb.Fatal(err)
			}
		}
		objects += nodes + services + pods + egresses
	}
	return objects
}

// toJSON rewrites every file of a dump as `kubectl get -o json` prints
// it (indented JSON), under the same names with .json.
func toJSON(tb testing.TB, dir string) {
	tb.Helper()
	clusters, _ := os.ReadDir(dir)
	for _, c := range clusters {
		files, _ := filepath.Glob(filepath.Join(dir, c.Name(), "*.yaml"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			j, err := yaml.YAMLToJSON(data)
			if err != nil {
				tb.Fatal(err)
			}
			var out bytes.Buffer
			if err := json.Indent(&out, j, "", "    "); err != nil {
				tb.Fatal(err)
			}
			out.WriteByte('\n')
			if err := os.WriteFile(strings.TrimSuffix(f, ".yaml")+".json", out.Bytes(), 0o644); err != nil {
				tb.Fatal(err)
			}
			if err := os.Remove(f); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// typedDecode is the baseline: one typed decode of every file of the
// dump (sigs.k8s.io/yaml, or encoding/json for .json files, into the
// kind's typed List), the least any loader must do with the same bytes.
func typedDecode(tb testing.TB, dir, ext string) int {
	n := 0
	clusters, _ := os.ReadDir(dir)
	for _, c := range clusters {
		for name, v := range map[string]func() any{
			"nodes":    func() any { return &corev1.NodeList{} },
			"services": func() any { return &corev1.ServiceList{} },
			"pods":     func() any { return &corev1.PodList{} },
			"egresses": func() any { return &struct{ Items []EgressObject }{} },
		} {
			data, err := os.ReadFile(filepath.Join(dir, c.Name(), name+ext))
			if err != nil {
				tb.Fatal(err)
			}
			o := v()
			if ext == ".json" {
				err = json.Unmarshal(data, o)
			} else {
				err = yaml.Unmarshal(data, o)
			}
			if err != nil {
				tb.Fatal(err)
			}
			switch l := o.(type) {
			case *corev1.NodeList:
				n += len(l.Items)
			case *corev1.ServiceList:
				n += len(l.Items)
			case *corev1.PodList:
				n += len(l.Items)
			case *struct{ Items []EgressObject }:
				n += len(l.Items)
			}
		}
	}
	return n
}

// BenchmarkLoadDir loads a generated kubectl dump of 8 clusters × (100
// nodes, 1,000 services, 2,000 pods, 50 Egresses) = 25,200 objects, as
// `kubectl get -o yaml` and as `-o json` print it, and reports its time
// against one typed decode pass of the same files (x-typed-decode),
// measured in the same run.
func BenchmarkLoadDir(b *testing.B) {
	for _, format := range []string{"yaml", "json"} {
		b.Run(format, func(b *testing.B) {
			dir := b.TempDir()
			want := writeScaleDump(b, dir, 8, 100, 1000, 2000, 50)
			if format == "json" {
				toJSON(b, dir)
			}
			var base time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if n := typedDecode(b, dir, "."+format); n != want {
					b.Fatalf("typed decode: %d objects, want %d", n, want)
				}
				base += time.Since(start)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, err := LoadDir(dir)
				if err != nil {
					b.Fatal(err)
				}
				if len(d.Objects) != want || len(d.Problems) != 0 {
					b.Fatalf("%d objects, want %d; problems %v", len(d.Objects), want, d.Problems[:min(3, len(d.Problems))])
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(want), "objects")
			b.ReportMetric(float64(b.Elapsed())/float64(base), "x-typed-decode")
		})
	}
}
