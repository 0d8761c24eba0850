package benchdata

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

// Files names what WriteFiles writes under its directory.
type Files struct {
	Inventory string // DIR/<cluster>/<kind>.json, as `kubectl get -o json` prints
	Policy    string // the groups and 10,000 rules in 100 policies
	NewPolicy string // Policy with a few groups and rules changed, for diff
	Objects   int
}

// WriteFiles writes the scale as the offline commands and `kordon serve
// --inventory` read it: each cluster's objects as one List file per kind,
// with the fields a real dump carries and kordon skips (managedFields,
// last-applied annotations, container specs, status conditions), so that
// decoding costs what it costs on a real cluster's dump. The Egresses
// also select pods (app-NN, as Services do), so that, as in real
// clusters, some pods are selected by two of them.
func (s Scale) WriteFiles(dir string) (Files, error) {
	f := Files{Inventory: filepath.Join(dir, "inventory"), Policy: filepath.Join(dir, "policy.json"), NewPolicy: filepath.Join(dir, "policy-new.json")}
	// One cluster at a time: the whole scale as maps would take
	// gigabytes.
	for c := range s.Clusters {
		files := map[string][]any{}
		cl := ""
		for _, o := range s.ClusterInventory(c) {
			file, k8s := kubectlObject(s, o)
			files[file] = append(files[file], k8s)
			cl = o.GetMeta().Cluster
			f.Objects++
		}
		cdir := filepath.Join(f.Inventory, cl)
		if err := os.MkdirAll(cdir, 0o755); err != nil {
			return f, err
		}
		for name, items := range files {
			list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{"resourceVersion": ""}}
			if err := writeJSON(filepath.Join(cdir, name+".json"), list, "    "); err != nil {
				return f, err
			}
		}
	}
	if err := writeJSON(f.Policy, s.PolicyDoc(0), ""); err != nil {
		return f, err
	}
	return f, writeJSON(f.NewPolicy, s.PolicyDoc(10), "")
}

func writeJSON(path string, v any, indent string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	enc := json.NewEncoder(w)
	enc.SetIndent("", indent)
	err = enc.Encode(v)
	if err == nil {
		err = w.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// PolicyDoc is the scale's configuration as one Infra document: its
// groups, and 10,000 rules in 100 policies, each between two of the
// groups. changed groups (every 1,000th) also hold one more address, and
// the rules naming them drop instead, so that two documents differ.
func (s Scale) PolicyDoc(changed int) *model.Infra {
	gs := s.Groups()
	paths := model.Paths(gs)
	isChanged := func(n int) bool { return changed > 0 && n%1000 == 0 && n/1000 < changed }
	dom := &model.Domain{}
	dom.ID = model.DefaultDomain
	for n, p := range paths {
		g := gs[p]
		g.ID = p[strings.LastIndex(p, "/")+1:]
		if isChanged(n) {
			g.Expression = append(g.Expression, or(), &model.IPAddressExpression{IPAddresses: []string{fmt.Sprintf("198.51.100.%d", n/1000+1)}})
		}
		dom.Children = append(dom.Children, model.Wrap(g))
	}
	for pi := 0; pi < 100; pi++ {
		pol := &model.SecurityPolicy{}
		pol.ID = fmt.Sprintf("scale-%03d", pi)
		pol.Category = model.CategoryApplication
		pol.SequenceNumber = int64(pi)
		for ri := 0; ri < 100; ri++ {
			n := pi*100 + ri
			src := n % len(paths)
			r := &model.Rule{Action: model.ActionAllow, SourceGroups: []string{paths[src]}, DestinationGroups: []string{paths[(n*7+3)%len(paths)]},
				Services: []string{"ANY"}, Scope: []string{"ANY"}, SequenceNumber: int64(ri)}
			if isChanged(src) {
				r.Action = model.ActionDrop
			}
			r.ID = fmt.Sprintf("r-%05d", n)
			pol.Children = append(pol.Children, model.Wrap(r))
		}
		dom.Children = append(dom.Children, model.Wrap(pol))
	}
	return &model.Infra{Children: model.ChildList{model.Wrap(dom)}}
}

type obj = map[string]any

// kubectlObject renders o as kubectl prints it, with the file (kind) it
// belongs to.
func kubectlObject(s Scale, o inventory.Object) (string, obj) {
	m := o.GetMeta()
	md := metadata(m)
	switch x := o.(type) {
	case *inventory.Namespace:
		return "namespaces", obj{"apiVersion": "v1", "kind": "Namespace", "metadata": md,
			"spec": obj{"finalizers": []string{"kubernetes"}}, "status": obj{"phase": "Active"}}
	case *inventory.Node:
		return "nodes", node(x, md)
	case *inventory.Service:
		return "services", service(x, md)
	case *inventory.Pod:
		return "pods", pod(s, x, md)
	case *inventory.Egress:
		app := fmt.Sprintf("app-%02d", suffix(m.Name)%s.Apps)
		return "egresses", obj{"apiVersion": "crd.antrea.io/v1beta1", "kind": "Egress", "metadata": md,
			"spec":   obj{"appliedTo": obj{"podSelector": obj{"matchLabels": obj{"app": app}}}, "egressIP": x.StatusIP.String()},
			"status": obj{"egressIP": x.StatusIP.String(), "egressNode": "node-001"}}
	case *inventory.IPPool:
		r := x.Ranges[0].CIDR
		return "ippools", obj{"apiVersion": "crd.antrea.io/v1beta1", "kind": "IPPool", "metadata": md,
			"spec": obj{"ipRanges": []obj{{"cidr": r.String()}}, "subnetInfo": obj{"gateway": r.Addr().Next().String(), "prefixLength": r.Bits()}}}
	case *inventory.Ingress:
		return "ingresses", obj{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": md,
			"spec": obj{"ingressClassName": "nginx", "rules": []obj{{"host": m.Name + ".example.com", "http": obj{"paths": []obj{{"path": "/", "pathType": "Prefix",
				"backend": obj{"service": obj{"name": "svc-0000", "port": obj{"number": 80}}}}}}}}},
			"status": obj{"loadBalancer": obj{"ingress": []obj{{"ip": x.LoadBalancer[0].IP.String()}}}}}
	case *inventory.Gateway:
		return "gateways", obj{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": md,
			"spec":   obj{"gatewayClassName": "istio", "listeners": []obj{{"name": "http", "port": 80, "protocol": "HTTP"}}},
			"status": obj{"addresses": []obj{{"type": "IPAddress", "value": x.Addresses[0].String()}}}}
	}
	panic(fmt.Sprintf("benchdata: no kubectl form for %T", o))
}

func suffix(name string) int {
	n := 0
	fmt.Sscanf(name[strings.LastIndex(name, "-")+1:], "%d", &n)
	return n
}

// metadata is what the API server prints for any object, most of which
// kordon skips.
func metadata(m *inventory.Meta) obj {
	md := obj{"name": m.Name, "creationTimestamp": "2024-05-01T10:00:00Z", "resourceVersion": "12345",
		"uid":         fmt.Sprintf("0f9a8b7c-1234-4d5e-8f90-%012d", len(m.Name)+len(m.Namespace)),
		"annotations": obj{"kubectl.kubernetes.io/last-applied-configuration": fmt.Sprintf(`{"apiVersion":"v1","kind":"Thing","metadata":{"name":%q}}`, m.Name)},
		"managedFields": []obj{{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": obj{"f:metadata": obj{"f:labels": obj{".": obj{}}}},
			"manager": "kubectl", "operation": "Update", "time": "2024-05-01T10:00:00Z"}}}
	if m.Namespace != "" {
		md["namespace"] = m.Namespace
	}
	if len(m.Labels) > 0 {
		md["labels"] = m.Labels
	}
	return md
}

func node(x *inventory.Node, md obj) obj {
	cidrs := []string{x.PodCIDRs[0].String()}
	return obj{"apiVersion": "v1", "kind": "Node", "metadata": md,
		"spec": obj{"podCIDR": cidrs[0], "podCIDRs": cidrs},
		"status": obj{"addresses": []obj{{"address": x.InternalIPs[0].String(), "type": "InternalIP"}, {"address": x.Name, "type": "Hostname"}},
			"capacity": obj{"cpu": "8", "memory": "32Gi"},
			"conditions": []obj{{"lastHeartbeatTime": "2024-05-01T10:00:00Z", "message": "kubelet is posting ready status", "reason": "KubeletReady",
				"status": "True", "type": "Ready"}},
			"nodeInfo": obj{"kubeletVersion": "v1.30.1", "osImage": "Ubuntu 22.04.4 LTS"}}}
}

func service(x *inventory.Service, md obj) obj {
	i := suffix(x.Name)
	clusterIP := fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)
	port := obj{"name": "http", "port": x.Ports[0].Port, "protocol": "TCP", "targetPort": x.Ports[0].TargetPort}
	if x.Ports[0].NodePort != 0 {
		port["nodePort"] = x.Ports[0].NodePort
	}
	if x.NodePortLocal {
		md["annotations"].(obj)[inventory.AnnotationNPLEnabled] = "true"
	}
	lb := obj{}
	if len(x.LoadBalancer) > 0 {
		lb["ingress"] = []obj{{"ip": x.LoadBalancer[0].IP.String(), "ipMode": "VIP"}}
	}
	return obj{"apiVersion": "v1", "kind": "Service", "metadata": md,
		"spec": obj{"clusterIP": clusterIP, "clusterIPs": []string{clusterIP}, "internalTrafficPolicy": "Cluster", "ipFamilies": []string{"IPv4"},
			"ipFamilyPolicy": "SingleStack", "ports": []obj{port}, "selector": x.Selector, "sessionAffinity": "None", "type": string(x.Type)},
		"status": obj{"loadBalancer": lb}}
}

func pod(s Scale, x *inventory.Pod, md obj) obj {
	i := suffix(x.Name)
	var npl []obj
	for _, m := range x.NodePortLocal {
		npl = append(npl, obj{"podPort": m.PodPort, "nodeIP": m.NodeIP.String(), "nodePort": m.NodePort, "protocol": strings.ToLower(m.Protocol.String())})
	}
	if npl != nil {
		b, _ := json.Marshal(npl)
		md["annotations"].(obj)[inventory.AnnotationNPL] = string(b)
	}
	ip := x.IPs[0].String()
	hostIP := x.NodePortLocal[0].NodeIP.String()
	return obj{"apiVersion": "v1", "kind": "Pod", "metadata": md,
		"spec": obj{"containers": []obj{{"image": "registry.example.com/app:1.2.3", "imagePullPolicy": "IfNotPresent", "name": "app",
			"ports":     []obj{{"containerPort": 8080, "name": "http", "protocol": "TCP"}},
			"resources": obj{"limits": obj{"memory": "256Mi"}, "requests": obj{"cpu": "100m"}}, "terminationMessagePath": "/dev/termination-log",
			"volumeMounts": []obj{{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access", "readOnly": true}}}},
			"dnsPolicy": "ClusterFirst", "nodeName": fmt.Sprintf("node-%03d", i%s.Nodes), "restartPolicy": "Always",
			"schedulerName": "default-scheduler", "serviceAccountName": "default"},
		"status": obj{"conditions": []obj{{"lastTransitionTime": "2024-05-01T10:00:00Z", "status": "True", "type": "Ready"},
			{"lastTransitionTime": "2024-05-01T10:00:00Z", "status": "True", "type": "PodScheduled"}},
			"containerStatuses": []obj{{"containerID": fmt.Sprintf("containerd://%064d", i), "image": "registry.example.com/app:1.2.3", "name": "app",
				"ready": true, "restartCount": 0, "started": true, "state": obj{"running": obj{"startedAt": "2024-05-01T10:00:01Z"}}}},
			"hostIP": hostIP, "phase": "Running", "podIP": ip, "podIPs": []obj{{"ip": ip}}, "qosClass": "Burstable", "startTime": "2024-05-01T10:00:00Z"}}
}
