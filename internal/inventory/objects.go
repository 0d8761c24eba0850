package inventory

import (
	"net/netip"
	"sort"

	"go4.org/netipx"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kordon-dev/kordon/internal/address"
)

// Kind is the kind of an inventory object.
type Kind string

// The kinds kordon keeps.
const (
	KindNode           Kind = "Node"
	KindNamespace      Kind = "Namespace"
	KindService        Kind = "Service"
	KindPod            Kind = "Pod"
	KindIngress        Kind = "Ingress"
	KindGateway        Kind = "Gateway"
	KindEgress         Kind = "Egress"
	KindIPPool         Kind = "IPPool"
	KindExternalIPPool Kind = "ExternalIPPool"
	// KindVirtualMachine is a VM as its enforcement agent reports it; VMs
	// are not Kubernetes objects and belong to no cluster (VMCluster).
	KindVirtualMachine Kind = "VirtualMachine"
)

// Kinds lists every kind, in a fixed order.
var Kinds = []Kind{KindNode, KindNamespace, KindService, KindPod, KindIngress, KindGateway, KindEgress, KindIPPool, KindExternalIPPool}

// Namespaced reports whether objects of the kind live in a namespace.
func (k Kind) Namespaced() bool {
	switch k {
	case KindService, KindPod, KindIngress, KindGateway:
		return true
	}
	return false
}

// Key identifies an object across clusters.
type Key struct {
	Cluster   string `json:"cluster"`
	Kind      Kind   `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (k Key) String() string {
	if k.Namespace == "" {
		return k.Cluster + "/" + string(k.Kind) + "/" + k.Name
	}
	return k.Cluster + "/" + string(k.Kind) + "/" + k.Namespace + "/" + k.Name
}

// Meta is what every object carries.
type Meta struct {
	Cluster         string            `json:"cluster"`
	Namespace       string            `json:"namespace,omitempty"`
	Name            string            `json:"name"`
	UID             string            `json:"uid,omitempty"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
}

// GetMeta gives access to the common fields.
func (m *Meta) GetMeta() *Meta { return m }

// Object is one inventory record.
type Object interface {
	GetMeta() *Meta
	Kind() Kind
}

// KeyOf returns the key of an object.
func KeyOf(o Object) Key {
	m := o.GetMeta()
	return Key{Cluster: m.Cluster, Kind: o.Kind(), Namespace: m.Namespace, Name: m.Name}
}

// Tag is a Kubernetes label seen as an NSX tag.
type Tag struct {
	Scope string
	Value string
}

// TagScopePrefix starts the scope of every tag discovered from a
// Kubernetes label, as NSX shows them.
const TagScopePrefix = "dis:k8s:"

// Tags returns an object's labels as NSX tags, sorted by scope.
func Tags(labels map[string]string) []Tag {
	out := make([]Tag, 0, len(labels))
	for k, v := range labels {
		out = append(out, Tag{Scope: TagScopePrefix + k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Scope < out[j].Scope })
	return out
}

// Node is a Kubernetes Node.
type Node struct {
	Meta
	InternalIPs []netip.Addr   `json:"internalIPs,omitempty"`
	ExternalIPs []netip.Addr   `json:"externalIPs,omitempty"`
	PodCIDRs    []netip.Prefix `json:"podCIDRs,omitempty"`
}

// Namespace is a Kubernetes Namespace.
type Namespace struct {
	Meta
}

// ServiceType is the type of a Service.
type ServiceType string

// Service types.
const (
	ServiceClusterIP    ServiceType = "ClusterIP"
	ServiceNodePort     ServiceType = "NodePort"
	ServiceLoadBalancer ServiceType = "LoadBalancer"
	ServiceExternalName ServiceType = "ExternalName"
)

// ServicePort is one port of a Service. TargetPortName is set when the
// target port is a named container port.
type ServicePort struct {
	Name           string        `json:"name,omitempty"`
	Protocol       address.Proto `json:"protocol"`
	Port           int32         `json:"port"`
	TargetPort     int32         `json:"targetPort,omitempty"`
	TargetPortName string        `json:"targetPortName,omitempty"`
	NodePort       int32         `json:"nodePort,omitempty"`
}

// PortStatus is a port a load balancer reports for an ingress point.
type PortStatus struct {
	Port     int32         `json:"port"`
	Protocol address.Proto `json:"protocol"`
}

// LoadBalancerIngress is one ingress point of a load balancer: an IP, a
// hostname, or both.
type LoadBalancerIngress struct {
	IP       netip.Addr   `json:"ip,omitzero"`
	Hostname string       `json:"hostname,omitempty"`
	Ports    []PortStatus `json:"ports,omitempty"`
}

// Service is a Kubernetes Service. NodePortLocal is true when the Service
// opts in with the annotation nodeportlocal.antrea.io/enabled: "true".
type Service struct {
	Meta
	Type          ServiceType           `json:"type"`
	ClusterIPs    []netip.Addr          `json:"clusterIPs,omitempty"`
	Ports         []ServicePort         `json:"ports,omitempty"`
	Selector      map[string]string     `json:"selector,omitempty"`
	LoadBalancer  []LoadBalancerIngress `json:"loadBalancer,omitempty"`
	NodePortLocal bool                  `json:"nodePortLocal,omitempty"`
}

// NPLMapping is one NodePortLocal entry Antrea writes on a Pod: traffic to
// NodeIP:NodePort reaches the pod's PodPort.
type NPLMapping struct {
	PodPort  int32         `json:"podPort"`
	NodeIP   netip.Addr    `json:"nodeIP"`
	NodePort int32         `json:"nodePort"`
	Protocol address.Proto `json:"protocol"`
}

// Pod is what kordon needs of a Pod: labels, node, addresses, and its
// NodePortLocal mappings and Antrea IPAM pool annotation.
type Pod struct {
	Meta
	NodeName      string       `json:"nodeName,omitempty"`
	IPs           []netip.Addr `json:"ips,omitempty"`
	HostNetwork   bool         `json:"hostNetwork,omitempty"`
	NodePortLocal []NPLMapping `json:"nodePortLocal,omitempty"`
	IPPools       []string     `json:"ipPools,omitempty"`
}

// IngressBackend is a Service an Ingress routes to.
type IngressBackend struct {
	Service  string `json:"service"`
	Port     int32  `json:"port,omitempty"`
	PortName string `json:"portName,omitempty"`
}

// Ingress is a networking.k8s.io/v1 Ingress.
type Ingress struct {
	Meta
	ClassName    string                `json:"className,omitempty"`
	LoadBalancer []LoadBalancerIngress `json:"loadBalancer,omitempty"`
	Backends     []IngressBackend      `json:"backends,omitempty"`
	TLS          bool                  `json:"tls,omitempty"`
}

// Listener is a Gateway listener.
type Listener struct {
	Name     string `json:"name"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
}

// Gateway is a Gateway API Gateway. Addresses are the status addresses of
// type IPAddress (or untyped); Hostnames the others.
type Gateway struct {
	Meta
	ClassName string       `json:"className,omitempty"`
	Addresses []netip.Addr `json:"addresses,omitempty"`
	Hostnames []string     `json:"hostnames,omitempty"`
	Listeners []Listener   `json:"listeners,omitempty"`
}

// Egress is an Antrea Egress: pods its appliedTo selects leave the cluster
// with one of its egress IPs, SNATed on EgressNode.
type Egress struct {
	Meta
	PodSelector       *metav1.LabelSelector `json:"podSelector,omitempty"`
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	SpecIPs           []netip.Addr          `json:"specIPs,omitempty"`
	ExternalIPPools   []string              `json:"externalIPPools,omitempty"`
	StatusIP          netip.Addr            `json:"statusIP,omitzero"`
	EgressNode        string                `json:"egressNode,omitempty"`
}

// IPs returns every egress IP the Egress names (spec and status), sorted
// and without duplicates: traffic may leave with any of them. None while
// nothing is assigned.
func (e *Egress) IPs() []netip.Addr {
	out := append([]netip.Addr(nil), e.SpecIPs...)
	if e.StatusIP.IsValid() {
		out = append(out, e.StatusIP)
	}
	return uniqueAddrs(out)
}

// IPRange is one range of an Antrea IP pool: a CIDR or a start-end range,
// with the subnet it belongs to.
type IPRange struct {
	CIDR         netip.Prefix `json:"cidr,omitzero"`
	Start        netip.Addr   `json:"start,omitzero"`
	End          netip.Addr   `json:"end,omitzero"`
	Gateway      netip.Addr   `json:"gateway,omitzero"`
	PrefixLength int32        `json:"prefixLength,omitempty"`
	VLAN         int32        `json:"vlan,omitempty"`
}

// Range returns the addresses of the range.
func (r IPRange) Range() netipx.IPRange {
	if r.CIDR.IsValid() {
		return netipx.RangeOfPrefix(r.CIDR.Masked())
	}
	return netipx.IPRangeFrom(r.Start, r.End)
}

// IPPool is an Antrea IPPool (antrea-ipam): pods get routable addresses
// from its ranges.
type IPPool struct {
	Meta
	Ranges []IPRange `json:"ranges,omitempty"`
}

// ExternalIPPool is an Antrea ExternalIPPool: Egress and LoadBalancer IPs
// are allocated from it. It is kept for tracing; it is not an AntreaIPPool
// member.
type ExternalIPPool struct {
	Meta
	Ranges       []IPRange             `json:"ranges,omitempty"`
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`
}

// VMCluster is the pseudo-cluster the default space's VMs are filed
// under: no registered cluster can have the name.
const VMCluster = "@vms"

// VMClusterFor is the pseudo-cluster of a space's VMs: a project's VMs
// are apart from the default space's, and only that project's groups
// select them.
func VMClusterFor(project string) string {
	if project == "" {
		return VMCluster
	}
	return VMCluster + ":" + project
}

// VirtualMachine is a VM protected by the distributed firewall, as its
// agent reports it: the VirtualMachine member type of NSX groups.
type VirtualMachine struct {
	Meta
	Addresses    []netip.Addr `json:"addresses,omitempty"`
	OSName       string       `json:"osName,omitempty"`
	ComputerName string       `json:"computerName,omitempty"`
	// Tags are NSX tags, scope and value as given (not labels).
	Tags []Tag `json:"tags,omitempty"`
}

// Kind implements Object.
func (*VirtualMachine) Kind() Kind { return KindVirtualMachine }

// Kind implements Object.
func (*Node) Kind() Kind { return KindNode }

// Kind implements Object.
func (*Namespace) Kind() Kind { return KindNamespace }

// Kind implements Object.
func (*Service) Kind() Kind { return KindService }

// Kind implements Object.
func (*Pod) Kind() Kind { return KindPod }

// Kind implements Object.
func (*Ingress) Kind() Kind { return KindIngress }

// Kind implements Object.
func (*Gateway) Kind() Kind { return KindGateway }

// Kind implements Object.
func (*Egress) Kind() Kind { return KindEgress }

// Kind implements Object.
func (*IPPool) Kind() Kind { return KindIPPool }

// Kind implements Object.
func (*ExternalIPPool) Kind() Kind { return KindExternalIPPool }

func uniqueAddrs(in []netip.Addr) []netip.Addr {
	sort.Slice(in, func(i, j int) bool { return in[i].Less(in[j]) })
	out := in[:0]
	for i, a := range in {
		if i == 0 || a != in[i-1] {
			out = append(out, a)
		}
	}
	return out
}

// New returns an empty object of the kind, for decoding.
func New(k Kind) Object {
	switch k {
	case KindNode:
		return &Node{}
	case KindNamespace:
		return &Namespace{}
	case KindService:
		return &Service{}
	case KindPod:
		return &Pod{}
	case KindIngress:
		return &Ingress{}
	case KindGateway:
		return &Gateway{}
	case KindEgress:
		return &Egress{}
	case KindIPPool:
		return &IPPool{}
	case KindExternalIPPool:
		return &ExternalIPPool{}
	}
	return nil
}
