package inventory

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/address"
)

func TestConvertNode(t *testing.T) {
	runConvertCases(t, []convertCase{
		{
			name: "internal and external addresses, dual-stack podCIDRs",
			yaml: `
apiVersion: v1
kind: Node
metadata:
  name: east-node-1
  uid: 5d1f-0001
  resourceVersion: "4711"
  labels: {kubernetes.io/hostname: east-node-1, topology.kubernetes.io/zone: east-a}
spec:
  podCIDR: 10.244.1.0/24
  podCIDRs: [10.244.1.0/24, "fd00:244:1::/64"]
status:
  addresses:
  - {type: Hostname, address: east-node-1}
  - {type: InternalDNS, address: east-node-1.internal}
  - {type: InternalIP, address: 10.10.1.11}
  - {type: ExternalIP, address: 198.51.100.11}
  - {type: ExternalDNS, address: east-node-1.example.com}
`,
			want: &Node{
				Meta: Meta{Cluster: testCluster, Name: "east-node-1", UID: "5d1f-0001", ResourceVersion: "4711",
					Labels: map[string]string{"kubernetes.io/hostname": "east-node-1", "topology.kubernetes.io/zone": "east-a"}},
				InternalIPs: addrs("10.10.1.11"),
				ExternalIPs: addrs("198.51.100.11"),
				PodCIDRs:    prefixes("10.244.1.0/24", "fd00:244:1::/64"),
			},
		},
		{
			name: "dual-stack internal addresses are sorted and deduplicated",
			yaml: `
apiVersion: v1
kind: Node
metadata: {name: node-a}
status:
  addresses:
  - {type: InternalIP, address: "fd00:10:10:1::11"}
  - {type: InternalIP, address: 10.10.1.12}
  - {type: InternalIP, address: 10.10.1.11}
  - {type: InternalIP, address: 10.10.1.12}
  - {type: ExternalIP, address: "2001:db8::5"}
  - {type: ExternalIP, address: 198.51.100.5}
`,
			want: &Node{
				Meta:        Meta{Cluster: testCluster, Name: "node-a"},
				InternalIPs: addrs("10.10.1.11", "10.10.1.12", "fd00:10:10:1::11"),
				ExternalIPs: addrs("198.51.100.5", "2001:db8::5"),
			},
		},
		{
			name: "podCIDR alone",
			yaml: `
apiVersion: v1
kind: Node
metadata: {name: node-a}
spec: {podCIDR: 10.245.1.0/24}
status: {addresses: [{type: InternalIP, address: 10.30.1.11}]}
`,
			want: &Node{Meta: Meta{Cluster: testCluster, Name: "node-a"}, InternalIPs: addrs("10.30.1.11"), PodCIDRs: prefixes("10.245.1.0/24")},
		},
		{
			name: "podCIDRs win over podCIDR",
			yaml: `
apiVersion: v1
kind: Node
metadata: {name: node-a}
spec: {podCIDR: 10.9.9.0/24, podCIDRs: [10.244.2.0/24]}
`,
			want: &Node{Meta: Meta{Cluster: testCluster, Name: "node-a"}, PodCIDRs: prefixes("10.244.2.0/24")},
		},
		{
			name: "pod CIDR host bits are masked",
			yaml: `
apiVersion: v1
kind: Node
metadata: {name: node-a}
spec: {podCIDRs: [10.244.3.7/24, "fd00:244:3::1/64"]}
`,
			want: &Node{Meta: Meta{Cluster: testCluster, Name: "node-a"}, PodCIDRs: prefixes("10.244.3.0/24", "fd00:244:3::/64")},
		},
		{
			name: "ipv4-mapped address is unmapped, spaces trimmed",
			yaml: `
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {addresses: [{type: InternalIP, address: " ::ffff:10.0.0.1 "}]}
`,
			want: &Node{Meta: Meta{Cluster: testCluster, Name: "node-a"}, InternalIPs: addrs("10.0.0.1")},
		},
		{
			name: "no addresses, no CIDRs",
			yaml: "apiVersion: v1\nkind: Node\nmetadata: {name: bare}\n",
			want: &Node{Meta: Meta{Cluster: testCluster, Name: "bare"}},
		},
		{
			name: "namespace of a cluster-scoped object is dropped",
			yaml: "apiVersion: v1\nkind: Node\nmetadata: {name: node-a, namespace: kube-system}\n",
			want: &Node{Meta: Meta{Cluster: testCluster, Name: "node-a"}},
		},
		{
			name: "bad internal address",
			yaml: `
apiVersion: v1
kind: Node
metadata: {name: node-a}
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.1}
  - {type: InternalIP, address: 10.0.0.300}
`,
			wantErr: `status.addresses[1].address: "10.0.0.300" is not an IP address`,
		},
		{
			name:    "bad external address",
			yaml:    "apiVersion: v1\nkind: Node\nmetadata: {name: node-a}\nstatus: {addresses: [{type: ExternalIP, address: node.example.com}]}\n",
			wantErr: `status.addresses[0].address: "node.example.com" is not an IP address`,
		},
		{
			name:    "bad pod CIDR",
			yaml:    "apiVersion: v1\nkind: Node\nmetadata: {name: node-a}\nspec: {podCIDRs: [10.0.0.0/24, 10.0.1.0/33]}\n",
			wantErr: `spec.podCIDRs[1]: "10.0.1.0/33" is not a CIDR`,
		},
		{
			name:    "pod CIDR without length",
			yaml:    "apiVersion: v1\nkind: Node\nmetadata: {name: node-a}\nspec: {podCIDR: 10.0.0.0}\n",
			wantErr: `spec.podCIDRs[0]: "10.0.0.0" is not a CIDR`,
		},
	})
}

func TestConvertNamespace(t *testing.T) {
	runConvertCases(t, []convertCase{
		{
			name: "labels kept",
			yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, uid: ns-1, labels: {env: prod, team: web}}\n",
			want: &Namespace{Meta: Meta{Cluster: testCluster, Name: "shop", UID: "ns-1", Labels: map[string]string{"env": "prod", "team": "web"}}},
		},
		{
			name: "no labels",
			yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: empty}\n",
			want: &Namespace{Meta: Meta{Cluster: testCluster, Name: "empty"}},
		},
		{
			name:    "missing name",
			yaml:    "apiVersion: v1\nkind: Namespace\nmetadata: {labels: {env: prod}}\n",
			wantErr: "metadata.name: missing",
		},
	})
}

func TestConvertService(t *testing.T) {
	meta := func(name string) Meta { return Meta{Cluster: testCluster, Namespace: "shop", Name: name} }
	runConvertCases(t, []convertCase{
		{
			name: "default type is ClusterIP, defaulted protocol and targetPort",
			yaml: `
apiVersion: v1
kind: Service
metadata: {name: redis, namespace: shop, uid: svc-1, labels: {app: redis}}
spec:
  clusterIP: 10.96.10.40
  selector: {app: redis}
  ports:
  - {port: 6379}
`,
			want: &Service{
				Meta:       Meta{Cluster: testCluster, Namespace: "shop", Name: "redis", UID: "svc-1", Labels: map[string]string{"app": "redis"}},
				Type:       ServiceClusterIP,
				ClusterIPs: addrs("10.96.10.40"),
				Selector:   map[string]string{"app": "redis"},
				Ports:      []ServicePort{{Protocol: address.TCP, Port: 6379, TargetPort: 6379}},
			},
		},
		{
			name: "clusterIPs win over clusterIP, numeric and named target ports",
			yaml: `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: ClusterIP
  clusterIP: 10.96.0.1
  clusterIPs: [10.96.0.10, "fd00:96::10"]
  ports:
  - {name: https, protocol: TCP, port: 443, targetPort: 8443}
  - {name: http, protocol: TCP, port: 80, targetPort: http-alt}
  - {name: dns, protocol: UDP, port: 53}
  - {name: sig, protocol: SCTP, port: 9899, targetPort: 9900}
`,
			want: &Service{
				Meta:       meta("web"),
				Type:       ServiceClusterIP,
				ClusterIPs: addrs("10.96.0.10", "fd00:96::10"),
				Ports: []ServicePort{
					{Name: "https", Protocol: address.TCP, Port: 443, TargetPort: 8443},
					{Name: "http", Protocol: address.TCP, Port: 80, TargetPortName: "http-alt"},
					{Name: "dns", Protocol: address.UDP, Port: 53, TargetPort: 53},
					{Name: "sig", Protocol: address.SCTP, Port: 9899, TargetPort: 9900},
				},
			},
		},
		{
			name: "headless service",
			yaml: `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: None, clusterIPs: [None], ports: [{port: 5432, targetPort: 5432}]}
`,
			want: &Service{Meta: meta("db"), Type: ServiceClusterIP, Ports: []ServicePort{{Protocol: address.TCP, Port: 5432, TargetPort: 5432}}},
		},
		{
			name: "headless service with clusterIP only",
			yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: shop}\nspec: {clusterIP: None}\n",
			want: &Service{Meta: meta("db"), Type: ServiceClusterIP},
		},
		{
			name: "NodePort",
			yaml: `
apiVersion: v1
kind: Service
metadata: {name: catalog, namespace: shop}
spec:
  type: NodePort
  clusterIP: 10.97.10.20
  ports:
  - {name: http, protocol: TCP, port: 8080, targetPort: 8080, nodePort: 30080}
  - {name: metrics, protocol: UDP, port: 9125, targetPort: 9125, nodePort: 30125}
`,
			want: &Service{
				Meta:       meta("catalog"),
				Type:       ServiceNodePort,
				ClusterIPs: addrs("10.97.10.20"),
				Ports: []ServicePort{
					{Name: "http", Protocol: address.TCP, Port: 8080, TargetPort: 8080, NodePort: 30080},
					{Name: "metrics", Protocol: address.UDP, Port: 9125, TargetPort: 9125, NodePort: 30125},
				},
			},
		},
		{
			name: "LoadBalancer with IP, hostname and port status",
			yaml: `
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: shop}
spec:
  type: LoadBalancer
  clusterIPs: [10.96.10.10]
  ports: [{name: https, protocol: TCP, port: 443, targetPort: 8443, nodePort: 31443}]
status:
  loadBalancer:
    ingress:
    - ip: 192.168.50.10
    - hostname: lb.example.com
    - ip: "2001:db8::10"
      hostname: lb6.example.com
      ipMode: VIP
      ports:
      - {port: 443, protocol: TCP}
      - {port: 443, protocol: UDP, error: "none"}
`,
			want: &Service{
				Meta:       meta("frontend"),
				Type:       ServiceLoadBalancer,
				ClusterIPs: addrs("10.96.10.10"),
				Ports:      []ServicePort{{Name: "https", Protocol: address.TCP, Port: 443, TargetPort: 8443, NodePort: 31443}},
				LoadBalancer: []LoadBalancerIngress{
					{IP: ip("192.168.50.10")},
					{Hostname: "lb.example.com"},
					{IP: ip("2001:db8::10"), Hostname: "lb6.example.com", Ports: []PortStatus{{443, address.TCP}, {443, address.UDP}}},
				},
			},
		},
		{
			name: "ExternalName",
			yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: shop}\nspec: {type: ExternalName, externalName: db.example.com}\n",
			want: &Service{Meta: meta("ext"), Type: ServiceExternalName},
		},
		{
			name: "protocol names in any case",
			yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\nspec: {ports: [{port: 53, protocol: udp}]}\n",
			want: &Service{Meta: meta("s"), Type: ServiceClusterIP, Ports: []ServicePort{{Protocol: address.UDP, Port: 53, TargetPort: 53}}},
		},
		{
			name:    "bad clusterIP",
			yaml:    "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\nspec: {clusterIPs: [10.96.0.1, 10.96.0.300]}\n",
			wantErr: `spec.clusterIPs[1]: "10.96.0.300" is not an IP address`,
		},
		{
			name:    "bad port protocol",
			yaml:    "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\nspec: {ports: [{port: 80}, {port: 0, protocol: ICMP}]}\n",
			wantErr: `spec.ports[1].protocol: "ICMP" is not TCP, UDP or SCTP`,
		},
		{
			name:    "bad load-balancer IP",
			yaml:    "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\nspec: {type: LoadBalancer}\nstatus: {loadBalancer: {ingress: [{ip: 192.168.1.1}, {ip: lb.example.com}]}}\n",
			wantErr: `status.loadBalancer.ingress[1].ip: "lb.example.com" is not an IP address`,
		},
		{
			name:    "bad load-balancer port protocol",
			yaml:    "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\nspec: {type: LoadBalancer}\nstatus: {loadBalancer: {ingress: [{ip: 192.168.1.1, ports: [{port: 80, protocol: HTTP}]}]}}\n",
			wantErr: `status.loadBalancer.ingress[0].ports[0].protocol: "HTTP" is not TCP, UDP or SCTP`,
		},
	})
}

// TestConvertServiceNodePortLocal follows Antrea's NodePortLocal
// controller (pkg/agent/nodeportlocal/k8s/npl_controller.go): it indexes
// Services by the value of nodeportlocal.antrea.io/enabled and acts on
// the "true" entries only (getTargetPortsForServicesOfPod, enqueueSvc,
// enqueueSvcUpdate compare with "true"), so "True" enables nothing.
func TestConvertServiceNodePortLocal(t *testing.T) {
	tests := []struct {
		name        string
		annotations string
		want        bool
		ignored     string
	}{
		{"true", `{nodeportlocal.antrea.io/enabled: "true"}`, true, ""},
		{"True is not true", `{nodeportlocal.antrea.io/enabled: "True"}`, false, `"True"`},
		{"TRUE is not true", `{nodeportlocal.antrea.io/enabled: "TRUE"}`, false, `"TRUE"`},
		{"spaces are not true", `{nodeportlocal.antrea.io/enabled: " true"}`, false, `" true"`},
		{"false", `{nodeportlocal.antrea.io/enabled: "false"}`, false, `"false"`},
		{"yes is not true", `{nodeportlocal.antrea.io/enabled: "yes"}`, false, `"yes"`},
		{"empty value", `{nodeportlocal.antrea.io/enabled: ""}`, false, `""`},
		{"long value shortened", `{nodeportlocal.antrea.io/enabled: "` + strings.Repeat("x", 100) + `"}`, false, `"` + strings.Repeat("x", 32) + `..."`},
		{"no annotation", `{}`, false, ""},
		{"pod annotation on a service does not count", `{nodeportlocal.antrea.io: "true"}`, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := convertYAML(t, "apiVersion: v1\nkind: Service\nmetadata: {name: cart, namespace: shop, annotations: "+tt.annotations+"}\nspec: {clusterIP: 10.96.10.30}\n")
			if err != nil {
				t.Fatal(err)
			}
			s := o.(*Service)
			if s.NodePortLocal != tt.want || s.NodePortLocalIgnored != tt.ignored {
				t.Errorf("NodePortLocal = %v, ignored %s; want %v, %s", s.NodePortLocal, s.NodePortLocalIgnored, tt.want, tt.ignored)
			}
			if err := Validate(o); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestConvertPod(t *testing.T) {
	meta := func(name string) Meta {
		return Meta{Cluster: testCluster, Namespace: "shop", Name: name, Labels: map[string]string{"app": "cart"}}
	}
	runConvertCases(t, []convertCase{
		{
			name: "podIPs win over podIP",
			yaml: `
apiVersion: v1
kind: Pod
metadata: {name: frontend-6d4f7, namespace: shop, uid: pod-1, labels: {app: cart}}
spec: {nodeName: east-node-1}
status: {podIP: 10.244.1.21, podIPs: [{ip: 10.244.1.21}, {ip: "fd00:244:1::21"}]}
`,
			want: &Pod{
				Meta:     Meta{Cluster: testCluster, Namespace: "shop", Name: "frontend-6d4f7", UID: "pod-1", Labels: map[string]string{"app": "cart"}},
				NodeName: "east-node-1",
				IPs:      addrs("10.244.1.21", "fd00:244:1::21"),
			},
		},
		{
			name: "podIP alone",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {app: cart}}\nspec: {nodeName: n2}\nstatus: {podIP: 10.244.2.31}\n",
			want: &Pod{Meta: meta("p"), NodeName: "n2", IPs: addrs("10.244.2.31")},
		},
		{
			name: "pending pod has no address",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {app: cart}}\nstatus: {phase: Pending}\n",
			want: &Pod{Meta: meta("p")},
		},
		{
			name: "hostNetwork",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {app: cart}}\nspec: {nodeName: n1, hostNetwork: true}\nstatus: {podIP: 10.10.1.11}\n",
			want: &Pod{Meta: meta("p"), NodeName: "n1", HostNetwork: true, IPs: addrs("10.10.1.11")},
		},
		{
			name: "NodePortLocal annotation, current format",
			yaml: `
apiVersion: v1
kind: Pod
metadata:
  name: cart-0
  namespace: shop
  labels: {app: cart}
  annotations:
    nodeportlocal.antrea.io: '[{"podPort":8080,"nodeIP":"10.10.1.11","nodePort":61001,"protocol":"tcp","ipFamily":"IPv4"},{"podPort":8080,"nodeIP":"fd00:10:10:1::11","nodePort":61001,"protocol":"tcp","ipFamily":"IPv6"},{"podPort":5353,"nodeIP":"10.10.1.11","nodePort":61002,"protocol":"udp","ipFamily":"IPv4"}]'
spec: {nodeName: east-node-1}
status: {podIP: 10.244.1.31}
`,
			want: &Pod{
				Meta:     meta("cart-0"),
				NodeName: "east-node-1",
				IPs:      addrs("10.244.1.31"),
				NodePortLocal: []NPLMapping{
					{PodPort: 8080, NodeIP: ip("10.10.1.11"), NodePort: 61001, Protocol: address.TCP},
					{PodPort: 8080, NodeIP: ip("fd00:10:10:1::11"), NodePort: 61001, Protocol: address.TCP},
					{PodPort: 5353, NodeIP: ip("10.10.1.11"), NodePort: 61002, Protocol: address.UDP},
				},
			},
		},
		{
			name: "NodePortLocal annotation, pre-1.7 protocols list",
			yaml: `
apiVersion: v1
kind: Pod
metadata:
  name: cart-1
  namespace: shop
  labels: {app: cart}
  annotations:
    nodeportlocal.antrea.io: '[{"podPort":8080,"nodeIP":"10.10.1.12","nodePort":61002,"protocols":["tcp","udp"]}]'
spec: {nodeName: east-node-2}
`,
			want: &Pod{
				Meta:     meta("cart-1"),
				NodeName: "east-node-2",
				NodePortLocal: []NPLMapping{
					{PodPort: 8080, NodeIP: ip("10.10.1.12"), NodePort: 61002, Protocol: address.TCP},
					{PodPort: 8080, NodeIP: ip("10.10.1.12"), NodePort: 61002, Protocol: address.UDP},
				},
			},
		},
		{
			name:    "malformed NodePortLocal annotation",
			yaml:    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, annotations: {nodeportlocal.antrea.io: '{\"podPort\":8080}'}}\n",
			wantErr: "metadata.annotations[nodeportlocal.antrea.io]: not a JSON list of NodePortLocal mappings: json: cannot unmarshal object into Go value of type []inventory.nplEntry",
		},
		{
			name:    "NodePortLocal annotation with a bad node IP",
			yaml:    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, annotations: {nodeportlocal.antrea.io: '[{\"podPort\":80,\"nodeIP\":\"node-1\",\"nodePort\":61000,\"protocol\":\"tcp\"}]'}}\n",
			wantErr: `metadata.annotations[nodeportlocal.antrea.io]: [0].nodeIP: "node-1" is not an IP address`,
		},
		{
			name: "one IPAM pool",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {app: cart}, annotations: {ipam.antrea.io/ippools: routable-pool}}\nstatus: {podIP: 10.20.0.15}\n",
			want: &Pod{Meta: meta("p"), IPs: addrs("10.20.0.15"), IPPools: []string{"routable-pool"}},
		},
		{
			name: "several IPAM pools, spaces and empty entries dropped",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {app: cart}, annotations: {ipam.antrea.io/ippools: ' pool-v4, ,pool-v6,, '}}\n",
			want: &Pod{Meta: meta("p"), IPPools: []string{"pool-v4", "pool-v6"}},
		},
		{
			name: "blank IPAM annotation",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {app: cart}, annotations: {ipam.antrea.io/ippools: '  '}}\n",
			want: &Pod{Meta: meta("p")},
		},
		{
			name:    "bad podIP",
			yaml:    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nstatus: {podIPs: [{ip: 10.0.0.1}, {ip: pending}]}\n",
			wantErr: `status.podIPs[1].ip: "pending" is not an IP address`,
		},
		{
			// What a Service's named targetPort resolves through: named
			// ports of the containers, then of sidecars (restartable init
			// containers); unnamed ports and plain init containers are not
			// kept; an unset protocol is TCP.
			name: "named container ports",
			yaml: `
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop, labels: {app: cart}}
spec:
  initContainers:
  - {name: setup, image: busybox, ports: [{name: http, containerPort: 9999}]}
  - name: proxy
    image: envoy
    restartPolicy: Always
    ports: [{name: http, containerPort: 15001, protocol: TCP}, {name: admin, containerPort: 15000}]
  containers:
  - name: app
    image: cart
    ports:
    - {containerPort: 9090, protocol: TCP}
    - {name: http, containerPort: 8080, protocol: TCP}
    - {name: dns, containerPort: 5353, protocol: UDP}
  - name: metrics
    image: exporter
    ports: [{name: metrics, containerPort: 9100}]
`,
			want: &Pod{Meta: meta("p"), NamedPorts: []NamedPort{
				{Name: "http", Port: 8080, Protocol: address.TCP},
				{Name: "dns", Port: 5353, Protocol: address.UDP},
				{Name: "metrics", Port: 9100, Protocol: address.TCP},
				{Name: "http", Port: 15001, Protocol: address.TCP, Sidecar: true},
				{Name: "admin", Port: 15000, Protocol: address.TCP, Sidecar: true},
			}},
		},
		{
			name:    "named container port with a bad protocol",
			yaml:    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {containers: [{name: a, ports: [{name: http, containerPort: 80, protocol: HTTP}]}]}\n",
			wantErr: `spec.containers[0].ports[0].protocol: "HTTP" is not TCP, UDP or SCTP`,
		},
	})
}

// TestPodTargetPorts: a Service port's target port on a pod, as
// Kubernetes resolves it for endpoints (FindPort in
// k8s.io/endpointslice/utils.go: the first port of the name and protocol
// in spec.containers, then in restartable init containers) and as
// Antrea's NodePortLocal does (handleAddUpdatePod in
// pkg/agent/nodeportlocal/k8s/npl_controller.go: every port of
// spec.containers whose name and protocol match, sidecars not read).
func TestPodTargetPorts(t *testing.T) {
	p := &Pod{NamedPorts: []NamedPort{
		{Name: "http", Port: 8080, Protocol: address.TCP},
		{Name: "dns", Port: 5353, Protocol: address.UDP},
		{Name: "http", Port: 8081, Protocol: address.TCP},
		{Name: "http", Port: 15001, Protocol: address.TCP, Sidecar: true},
		{Name: "admin", Port: 15000, Protocol: address.TCP, Sidecar: true},
	}}
	tests := []struct {
		name string
		sp   ServicePort
		k8s  int32 // 0: unresolved
		npl  []int32
	}{
		{"number", ServicePort{Protocol: address.TCP, Port: 80, TargetPort: 8080}, 8080, []int32{8080}},
		{"name", ServicePort{Protocol: address.TCP, Port: 80, TargetPortName: "http"}, 8080, []int32{8080, 8081}},
		{"name of another protocol", ServicePort{Protocol: address.UDP, Port: 80, TargetPortName: "http"}, 0, nil},
		{"name of a UDP port", ServicePort{Protocol: address.UDP, Port: 53, TargetPortName: "dns"}, 5353, []int32{5353}},
		{"name of a sidecar port only", ServicePort{Protocol: address.TCP, Port: 80, TargetPortName: "admin"}, 15000, nil},
		{"unknown name", ServicePort{Protocol: address.TCP, Port: 80, TargetPortName: "grpc"}, 0, nil},
		{"names are case-sensitive", ServicePort{Protocol: address.TCP, Port: 80, TargetPortName: "HTTP"}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.TargetPort(tt.sp)
			if ok != (tt.k8s != 0) || got != tt.k8s {
				t.Errorf("TargetPort = %d, %v; want %d", got, ok, tt.k8s)
			}
			if npl := p.NPLPodPorts(tt.sp); !reflect.DeepEqual(npl, tt.npl) {
				t.Errorf("NPLPodPorts = %v, want %v", npl, tt.npl)
			}
		})
	}
}

func TestParseNPL(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []NPLMapping
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "blank", in: "  \n", want: nil},
		{name: "empty list", in: "[]", want: nil},
		{name: "null", in: "null", want: nil},
		{
			name: "one mapping",
			in:   `[{"podPort":8080,"nodeIP":"10.10.1.11","nodePort":61001,"protocol":"tcp","ipFamily":"IPv4"}]`,
			want: []NPLMapping{{PodPort: 8080, NodeIP: ip("10.10.1.11"), NodePort: 61001, Protocol: address.TCP}},
		},
		{
			name: "protocols in any case, ipv6 node",
			in:   `[{"podPort":80,"nodeIP":"fd00::11","nodePort":61000,"protocol":"UDP"},{"podPort":81,"nodeIP":"10.0.0.1","nodePort":61001,"protocol":"Sctp"}]`,
			want: []NPLMapping{
				{PodPort: 80, NodeIP: ip("fd00::11"), NodePort: 61000, Protocol: address.UDP},
				{PodPort: 81, NodeIP: ip("10.0.0.1"), NodePort: 61001, Protocol: address.SCTP},
			},
		},
		{
			name: "pre-1.7 protocols list",
			in:   `[{"podPort":53,"nodeIP":"10.0.0.1","nodePort":61053,"protocols":["udp","tcp"]}]`,
			want: []NPLMapping{
				{PodPort: 53, NodeIP: ip("10.0.0.1"), NodePort: 61053, Protocol: address.UDP},
				{PodPort: 53, NodeIP: ip("10.0.0.1"), NodePort: 61053, Protocol: address.TCP},
			},
		},
		{
			name: "protocol wins over protocols",
			in:   `[{"podPort":53,"nodeIP":"10.0.0.1","nodePort":61053,"protocol":"udp","protocols":["tcp","sctp"]}]`,
			want: []NPLMapping{{PodPort: 53, NodeIP: ip("10.0.0.1"), NodePort: 61053, Protocol: address.UDP}},
		},
		{
			name: "no protocol means TCP",
			in:   `[{"podPort":80,"nodeIP":"10.0.0.1","nodePort":61000}]`,
			want: []NPLMapping{{PodPort: 80, NodeIP: ip("10.0.0.1"), NodePort: 61000, Protocol: address.TCP}},
		},
		{
			name: "empty protocols list means TCP",
			in:   `[{"podPort":80,"nodeIP":"10.0.0.1","nodePort":61000,"protocols":[]}]`,
			want: []NPLMapping{{PodPort: 80, NodeIP: ip("10.0.0.1"), NodePort: 61000, Protocol: address.TCP}},
		},
		{
			name: "port bounds",
			in:   `[{"podPort":1,"nodeIP":"10.0.0.1","nodePort":1},{"podPort":65535,"nodeIP":"10.0.0.1","nodePort":65535}]`,
			want: []NPLMapping{
				{PodPort: 1, NodeIP: ip("10.0.0.1"), NodePort: 1, Protocol: address.TCP},
				{PodPort: 65535, NodeIP: ip("10.0.0.1"), NodePort: 65535, Protocol: address.TCP},
			},
		},
		{name: "not JSON", in: "tcp:8080", wantErr: "not a JSON list of NodePortLocal mappings: invalid character 'c' in literal true (expecting 'r')"},
		{name: "object instead of list", in: `{"podPort":8080}`, wantErr: "not a JSON list of NodePortLocal mappings: json: cannot unmarshal object into Go value of type []inventory.nplEntry"},
		{name: "port as string", in: `[{"podPort":"8080","nodeIP":"10.0.0.1","nodePort":61000}]`, wantErr: "not a JSON list of NodePortLocal mappings: json: cannot unmarshal string into Go struct field nplEntry.podPort of type int32"},
		{name: "missing node IP", in: `[{"podPort":8080,"nodePort":61000}]`, wantErr: `[0].nodeIP: "" is not an IP address`},
		{name: "node port 0", in: `[{"podPort":8080,"nodeIP":"10.0.0.1","nodePort":61000},{"podPort":8080,"nodeIP":"10.0.0.1"}]`, wantErr: "[1].nodePort: 0 is not a port"},
		{name: "node port too large", in: `[{"podPort":8080,"nodeIP":"10.0.0.1","nodePort":65536}]`, wantErr: "[0].nodePort: 65536 is not a port"},
		{name: "negative node port", in: `[{"podPort":8080,"nodeIP":"10.0.0.1","nodePort":-1}]`, wantErr: "[0].nodePort: -1 is not a port"},
		{name: "icmp", in: `[{"podPort":8080,"nodeIP":"10.0.0.1","nodePort":61000,"protocol":"icmp"}]`, wantErr: `[0].protocol: "icmp" is not TCP, UDP or SCTP`},
		{name: "bad protocol in list", in: `[{"podPort":8080,"nodeIP":"10.0.0.1","nodePort":61000,"protocols":["tcp","quic"]}]`, wantErr: `[0].protocol: "quic" is not TCP, UDP or SCTP`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNPL(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseNPL(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("ParseNPL(%q) = %v with the error, want nil", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseNPL(%q): unexpected error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseNPL(%q) = %s, want %s", tt.in, asJSON(got), asJSON(tt.want))
			}
		})
	}
}

func TestConvertIngress(t *testing.T) {
	meta := func(name string) Meta { return Meta{Cluster: testCluster, Namespace: "shop", Name: name} }
	runConvertCases(t, []convertCase{
		{
			name: "class, TLS, status and backends from defaultBackend and rules",
			yaml: `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop, uid: ing-1, labels: {app: web-entry}}
spec:
  ingressClassName: nginx
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  defaultBackend: {service: {name: fallback, port: {name: http}}}
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: frontend, port: {number: 443}}}}
      - {path: /cart, pathType: Prefix, backend: {service: {name: cart, port: {number: 80}}}}
      - {path: /static, pathType: Prefix, backend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: assets}}}
  - host: nohttp.example.com
  - http:
      paths:
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: grpc}}}}
status:
  loadBalancer:
    ingress:
    - ip: 192.168.50.30
    - hostname: web.lb.example.com
      ports: [{port: 443, protocol: TCP}]
`,
			want: &Ingress{
				Meta:      Meta{Cluster: testCluster, Namespace: "shop", Name: "web", UID: "ing-1", Labels: map[string]string{"app": "web-entry"}},
				ClassName: "nginx",
				TLS:       true,
				LoadBalancer: []LoadBalancerIngress{
					{IP: ip("192.168.50.30")},
					{Hostname: "web.lb.example.com", Ports: []PortStatus{{443, address.TCP}}},
				},
				Backends: []IngressBackend{
					{Service: "fallback", PortName: "http"},
					{Service: "frontend", Port: 443},
					{Service: "cart", Port: 80},
					{Service: "api", PortName: "grpc"},
				},
			},
		},
		{
			name: "no class, no TLS, no status",
			yaml: "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: plain, namespace: shop}\nspec: {defaultBackend: {service: {name: web, port: {number: 8080}}}}\n",
			want: &Ingress{Meta: meta("plain"), Backends: []IngressBackend{{Service: "web", Port: 8080}}},
		},
		{
			name: "empty tls list is no TLS",
			yaml: "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: plain, namespace: shop}\nspec: {tls: []}\n",
			want: &Ingress{Meta: meta("plain")},
		},
		{
			name: "ipv6 load balancer",
			yaml: "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: v6, namespace: shop}\nstatus: {loadBalancer: {ingress: [{ip: '2001:db8::30'}]}}\n",
			want: &Ingress{Meta: meta("v6"), LoadBalancer: []LoadBalancerIngress{{IP: ip("2001:db8::30")}}},
		},
		{
			name:    "bad load-balancer IP",
			yaml:    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: bad, namespace: shop}\nstatus: {loadBalancer: {ingress: [{ip: 1.2.3}]}}\n",
			wantErr: `status.loadBalancer.ingress[0].ip: "1.2.3" is not an IP address`,
		},
		{
			name:    "bad load-balancer port protocol",
			yaml:    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: bad, namespace: shop}\nstatus: {loadBalancer: {ingress: [{ip: 1.2.3.4, ports: [{port: 443, protocol: TCP}, {port: 80, protocol: HTTP}]}]}}\n",
			wantErr: `status.loadBalancer.ingress[0].ports[1].protocol: "HTTP" is not TCP, UDP or SCTP`,
		},
	})
}

// minimal objects of every supported kind and version.
var minimalObjects = []struct {
	apiVersion, kind string
}{
	{"v1", "Node"},
	{"v1", "Namespace"},
	{"v1", "Service"},
	{"v1", "Pod"},
	{"networking.k8s.io/v1", "Ingress"},
	{"gateway.networking.k8s.io/v1", "Gateway"},
	{"gateway.networking.k8s.io/v1beta1", "Gateway"},
	{"crd.antrea.io/v1beta1", "Egress"},
	{"crd.antrea.io/v1alpha2", "Egress"},
	{"crd.antrea.io/v1beta1", "IPPool"},
	{"crd.antrea.io/v1alpha2", "IPPool"},
	{"crd.antrea.io/v1beta1", "ExternalIPPool"},
	{"crd.antrea.io/v1alpha2", "ExternalIPPool"},
}

func TestConvertSupportedVersions(t *testing.T) {
	for _, m := range minimalObjects {
		t.Run(m.kind+" "+m.apiVersion, func(t *testing.T) {
			o, err := Convert(testCluster, Source{APIVersion: m.apiVersion, Kind: m.kind},
				[]byte(`{"apiVersion":"`+m.apiVersion+`","kind":"`+m.kind+`","metadata":{"name":"x","namespace":"ns"}}`))
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			if string(o.Kind()) != m.kind {
				t.Errorf("Kind() = %s, want %s", o.Kind(), m.kind)
			}
			want := Key{Cluster: testCluster, Kind: Kind(m.kind), Name: "x"}
			if Kind(m.kind).Namespaced() {
				want.Namespace = "ns"
			}
			if got := KeyOf(o); got != want {
				t.Errorf("KeyOf = %+v, want %+v", got, want)
			}
		})
	}
}

func TestConvertMissingName(t *testing.T) {
	for _, m := range minimalObjects {
		t.Run(m.kind+" "+m.apiVersion, func(t *testing.T) {
			o, err := Convert(testCluster, Source{APIVersion: m.apiVersion, Kind: m.kind},
				[]byte(`{"apiVersion":"`+m.apiVersion+`","kind":"`+m.kind+`","metadata":{"namespace":"ns","labels":{"a":"b"}}}`))
			if err == nil || err.Error() != "metadata.name: missing" {
				t.Fatalf("Convert = %v, %v; want error %q", o, err, "metadata.name: missing")
			}
		})
	}
}

func TestConvertDefaultNamespace(t *testing.T) {
	for _, m := range minimalObjects {
		t.Run(m.kind+" "+m.apiVersion, func(t *testing.T) {
			o, err := Convert(testCluster, Source{APIVersion: m.apiVersion, Kind: m.kind},
				[]byte(`{"apiVersion":"`+m.apiVersion+`","kind":"`+m.kind+`","metadata":{"name":"x"}}`))
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			want := ""
			if o.Kind().Namespaced() {
				want = "default"
			}
			if got := o.GetMeta().Namespace; got != want {
				t.Errorf("Namespace = %q, want %q", got, want)
			}
			if got := o.GetMeta().Cluster; got != testCluster {
				t.Errorf("Cluster = %q, want %q", got, testCluster)
			}
		})
	}
}

func TestConvertVersions(t *testing.T) {
	tests := []struct {
		apiVersion, kind string
		wantErr          string // "" for ErrIgnored
	}{
		{"networking.k8s.io/v1beta1", "Ingress", "Ingress networking.k8s.io/v1beta1 is not supported (kordon reads networking.k8s.io/v1)"},
		{"extensions/v1beta1", "Ingress", "Ingress extensions/v1beta1 is not supported (kordon reads networking.k8s.io/v1)"},
		{"crd.antrea.io/v1alpha1", "Egress", "Egress crd.antrea.io/v1alpha1 is not supported (kordon reads crd.antrea.io/v1beta1, crd.antrea.io/v1alpha2)"},
		{"crd.antrea.io/v1alpha1", "IPPool", "IPPool crd.antrea.io/v1alpha1 is not supported (kordon reads crd.antrea.io/v1beta1, crd.antrea.io/v1alpha2)"},
		{"crd.antrea.io/v1", "ExternalIPPool", "ExternalIPPool crd.antrea.io/v1 is not supported (kordon reads crd.antrea.io/v1beta1, crd.antrea.io/v1alpha2)"},
		{"gateway.networking.k8s.io/v1alpha2", "Gateway", "Gateway gateway.networking.k8s.io/v1alpha2 is not supported (kordon reads gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1beta1)"},
		{"v2", "Node", "Node v2 is not supported (kordon reads v1)"},
		// Kinds kordon does not keep, and same-named kinds of other projects.
		{"v1", "ConfigMap", ""},
		{"apps/v1", "Deployment", ""},
		{"v1", "Endpoints", ""},
		{"networking.k8s.io/v1", "NetworkPolicy", ""},
		{"crd.antrea.io/v1beta1", "ClusterNetworkPolicy", ""},
		{"networking.istio.io/v1beta1", "Gateway", ""},
		{"crd.projectcalico.org/v1", "IPPool", ""},
		{"serving.knative.dev/v1", "Service", ""},
		{"v1", "List", ""},
		{"v1", "node", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.apiVersion, func(t *testing.T) {
			o, err := Convert(testCluster, Source{APIVersion: tt.apiVersion, Kind: tt.kind},
				[]byte(`{"apiVersion":"`+tt.apiVersion+`","kind":"`+tt.kind+`","metadata":{"name":"x"}}`))
			if o != nil {
				t.Errorf("Convert returned %s, want nil", asJSON(o))
			}
			if tt.wantErr == "" {
				if !errors.Is(err, ErrIgnored) {
					t.Errorf("Convert error = %v, want ErrIgnored", err)
				}
				return
			}
			if err == nil || errors.Is(err, ErrIgnored) || err.Error() != tt.wantErr {
				t.Errorf("Convert error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestConvertDecodeErrors(t *testing.T) {
	tests := []struct {
		name       string
		apiVersion string
		kind       string
		json       string
		wantErr    string
	}{
		{"ports not a list", "v1", "Service", `{"metadata":{"name":"s"},"spec":{"ports":"80"}}`, "spec.ports: expected []v1.ServicePort, got string"},
		{"port as string", "v1", "Service", `{"metadata":{"name":"s"},"spec":{"ports":[{"port":"80"}]}}`, "spec.ports.port: expected int32, got string"},
		{"labels not a map", "v1", "Namespace", `{"metadata":{"name":"n","labels":["a"]}}`, "metadata.labels: expected map[string]string, got array"},
		{"hostNetwork as string", "v1", "Pod", `{"metadata":{"name":"p"},"spec":{"hostNetwork":"yes"}}`, "spec.hostNetwork: expected bool, got string"},
		{"egressIPs not a list", "crd.antrea.io/v1beta1", "Egress", `{"metadata":{"name":"e"},"spec":{"egressIPs":"10.0.0.1"}}`, "spec.egressIPs: expected []string, got string"},
		{"listener port as string", "gateway.networking.k8s.io/v1", "Gateway", `{"metadata":{"name":"g"},"spec":{"listeners":[{"port":"443"}]}}`, "spec.listeners.port: expected int32, got string"},
		{"ipRanges not a list", "crd.antrea.io/v1beta1", "IPPool", `{"metadata":{"name":"p"},"spec":{"ipRanges":{"cidr":"10.0.0.0/24"}}}`, "spec.ipRanges: expected []inventory.ipRangeSpec, got object"},
		{"not JSON", "v1", "Node", `apiVersion: v1`, "invalid character 'a' looking for beginning of value"},
		{"truncated", "crd.antrea.io/v1alpha2", "ExternalIPPool", `{"metadata":{"name":"p"`, "unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Convert(testCluster, Source{APIVersion: tt.apiVersion, Kind: tt.kind}, []byte(tt.json))
			if err == nil {
				t.Fatalf("Convert = %s, want error %q", asJSON(o), tt.wantErr)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("Convert error = %q, want %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrIgnored) {
				t.Errorf("Convert error is ErrIgnored")
			}
		})
	}
}
