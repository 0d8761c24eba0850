package inventory

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

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

// numericTarget is a numeric target port: Kubernetes uses the Service
// port when none is given.
func (sp ServicePort) numericTarget() int32 {
	if sp.TargetPort == 0 {
		return sp.Port
	}
	return sp.TargetPort
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
// opts in with the annotation nodeportlocal.antrea.io/enabled set to
// exactly "true", the only value Antrea's agent acts on; any other value
// it ignores is kept in NodePortLocalIgnored (shortened), so that kordon
// can say why the Service has no NodePortLocal members.
type Service struct {
	Meta
	Type                 ServiceType           `json:"type"`
	ClusterIPs           []netip.Addr          `json:"clusterIPs,omitempty"`
	Ports                []ServicePort         `json:"ports,omitempty"`
	Selector             map[string]string     `json:"selector,omitempty"`
	LoadBalancer         []LoadBalancerIngress `json:"loadBalancer,omitempty"`
	NodePortLocal        bool                  `json:"nodePortLocal,omitempty"`
	NodePortLocalIgnored string                `json:"nodePortLocalIgnored,omitempty"`
}

// NPLMapping is one NodePortLocal entry Antrea writes on a Pod: traffic to
// NodeIP:NodePort reaches the pod's PodPort.
type NPLMapping struct {
	PodPort  int32         `json:"podPort"`
	NodeIP   netip.Addr    `json:"nodeIP"`
	NodePort int32         `json:"nodePort"`
	Protocol address.Proto `json:"protocol"`
}

// NamedPort is a named port of one of a Pod's containers: what a
// Service's named targetPort resolves through. Sidecar is set for a port
// of a restartable init container (restartPolicy: Always): Kubernetes
// resolves Service target ports through those too, after the regular
// containers; Antrea's NodePortLocal does not.
//
// It is stored as one string, NAME:PORT/PROTOCOL, with "/sidecar"
// appended for a sidecar's port: every pod of a cluster carries its
// named ports in the adapter's cache, where the compact form costs
// about half of the JSON object's bytes.
type NamedPort struct {
	Name     string
	Port     int32
	Protocol address.Proto
	Sidecar  bool
}

const sidecarSuffix = "/sidecar"

// MarshalJSON writes NAME:PORT/PROTOCOL[/sidecar].
func (p NamedPort) MarshalJSON() ([]byte, error) {
	s := p.Name + ":" + strconv.Itoa(int(p.Port)) + "/" + p.Protocol.String()
	if p.Sidecar {
		s += sidecarSuffix
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *NamedPort) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	rest, sidecar := strings.CutSuffix(s, sidecarSuffix)
	i := strings.LastIndexByte(rest, '/')
	j := strings.LastIndexByte(rest[:max(i, 0)], ':')
	if i < 0 || j < 0 {
		return fmt.Errorf("named port %q is not NAME:PORT/PROTOCOL", s)
	}
	port, err := strconv.ParseUint(rest[j+1:i], 10, 16)
	if err != nil || port == 0 {
		return fmt.Errorf("named port %q: %q is not a port", s, rest[j+1:i])
	}
	proto, err := address.ParseProto(rest[i+1:])
	if err != nil || !proto.HasPorts() {
		return fmt.Errorf("named port %q: %q is not TCP, UDP or SCTP", s, rest[i+1:])
	}
	*p = NamedPort{Name: rest[:j], Port: int32(port), Protocol: proto, Sidecar: sidecar}
	return nil
}

// Pod is what kordon needs of a Pod: labels, node, addresses, its
// NodePortLocal mappings and Antrea IPAM pool annotation, and its named
// container ports (regular containers first, in order, then sidecars;
// unnamed ports are not kept: no Service can name them).
type Pod struct {
	Meta
	NodeName      string       `json:"nodeName,omitempty"`
	IPs           []netip.Addr `json:"ips,omitempty"`
	HostNetwork   bool         `json:"hostNetwork,omitempty"`
	NodePortLocal []NPLMapping `json:"nodePortLocal,omitempty"`
	IPPools       []string     `json:"ipPools,omitempty"`
	NamedPorts    []NamedPort  `json:"namedPorts,omitempty"`
}

// TargetPort resolves a Service port's target port on the pod as
// Kubernetes does for the Service's endpoints (FindPort of
// k8s.io/endpointslice): a number as is; a name through the first port
// of that name and protocol of the regular containers, then of the
// sidecars. ok is false when the pod has no such port.
func (p *Pod) TargetPort(sp ServicePort) (port int32, ok bool) {
	if sp.TargetPortName == "" {
		tp := sp.numericTarget()
		return tp, tp != 0
	}
	for _, sidecar := range []bool{false, true} {
		for _, np := range p.NamedPorts {
			if np.Sidecar == sidecar && np.Name == sp.TargetPortName && np.Protocol == sp.Protocol {
				return np.Port, true
			}
		}
	}
	return 0, false
}

// NPLPodPorts returns the pod ports Antrea's NodePortLocal maps for a
// Service port: its numeric target port, or every port of the regular
// containers with its named target port's name and protocol (Antrea
// reads pod.spec.containers only).
func (p *Pod) NPLPodPorts(sp ServicePort) []int32 {
	if sp.TargetPortName == "" {
		if tp := sp.numericTarget(); tp != 0 {
			return []int32{tp}
		}
		return nil
	}
	var out []int32
	for _, np := range p.NamedPorts {
		if !np.Sidecar && np.Name == sp.TargetPortName && np.Protocol == sp.Protocol {
			out = append(out, np.Port)
		}
	}
	return out
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
// with its egress IP, SNATed on EgressNode, once that IP is in effect
// (Effect). The fields are the Egress's own: SpecIP is spec.egressIP,
// ExternalIPPool spec.externalIPPool; SpecIPs and ExternalIPPools are
// spec.egressIPs and spec.externalIPPools, which Antrea does not support
// yet (its webhook refuses them, its agent reads neither); StatusIP,
// EgressNode and Conditions are what Antrea reports in status.
type Egress struct {
	Meta
	PodSelector       *metav1.LabelSelector `json:"podSelector,omitempty"`
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	SpecIP            netip.Addr            `json:"specIP,omitzero"`
	SpecIPs           []netip.Addr          `json:"specIPs,omitempty"`
	ExternalIPPool    string                `json:"externalIPPool,omitempty"`
	ExternalIPPools   []string              `json:"externalIPPools,omitempty"`
	StatusIP          netip.Addr            `json:"statusIP,omitzero"`
	EgressNode        string                `json:"egressNode,omitempty"`
	Conditions        []EgressCondition     `json:"conditions,omitempty"`
}

// Egress condition types Antrea reports: IPAllocated by antrea-controller
// (allocation of spec.egressIP from the ExternalIPPool), IPAssigned by
// antrea-agent (assignment of the IP to a Node). Neither applies to an
// Egress without an ExternalIPPool.
const (
	EgressIPAllocated = "IPAllocated"
	EgressIPAssigned  = "IPAssigned"
)

// EgressCondition is one of those conditions (others are not kept);
// Message is shortened to one line.
type EgressCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Condition returns the condition of the type, if Antrea reported it.
func (e *Egress) Condition(t string) (EgressCondition, bool) {
	for _, c := range e.Conditions {
		if c.Type == t {
			return c, true
		}
	}
	return EgressCondition{}, false
}

// EgressEffect is what an Egress does to the pods it selects, as Antrea
// realizes it.
type EgressEffect struct {
	// IPs are the egress IPs in effect: the selected pods leave with them.
	IPs []netip.Addr
	// Named are IPs the Egress names that are not in effect.
	Named []netip.Addr
	// Why says why no IP is in effect, when none is.
	Why string
}

// Effect decides which of the Egress's IPs are in effect, following
// antrea-agent's egress controller (syncEgress, isEgressSchedulable,
// updateEgressStatus):
//
//   - without an ExternalIPPool, spec.egressIP is realized as given,
//     whatever the status says: the agents install its SNAT flows, and the
//     Node the IP was assigned to by hand reports itself in status;
//   - with an ExternalIPPool, the IP is in effect only once a Node has
//     taken it: the agent on that Node reports it in status.egressIP (with
//     egressNode); until then, or while the pool has no Node for it
//     (condition IPAssigned False), no agent installs SNAT for it and the
//     selected pods leave with their nodes' IPs. A status.egressIP that
//     spec.egressIP no longer names is stale: the agents already dropped it.
//     Antrea before v1.12 reported the Node only (status.egressNode, no
//     status.egressIP, no condition): then spec.egressIP on that Node;
//   - spec.egressIPs alone does nothing: the agent realizes spec.egressIP
//     only.
func (e *Egress) Effect() EgressEffect {
	spec, status := e.SpecIP, e.StatusIP
	var named []netip.Addr
	for _, a := range append([]netip.Addr{spec, status}, e.SpecIPs...) {
		if a.IsValid() {
			named = append(named, a)
		}
	}
	named = uniqueAddrs(named)
	_, assignedCond := e.Condition(EgressIPAssigned)
	switch {
	case spec.IsValid() && e.ExternalIPPool == "":
		return effect(named, spec)
	case status.IsValid() && (!spec.IsValid() || spec == status):
		return effect(named, status)
	case spec.IsValid() && e.EgressNode != "" && !status.IsValid() && !assignedCond:
		return effect(named, spec)
	}
	var why string
	switch {
	case status.IsValid():
		why = fmt.Sprintf("status.egressIP %s is stale: spec.egressIP is now %s, which no Node has reported taking yet", status, spec)
	case spec.IsValid():
		why = fmt.Sprintf("%s comes from ExternalIPPool %s but no Node has taken it (status.egressIP is empty)", spec, e.ExternalIPPool)
		if c, ok := e.Condition(EgressIPAssigned); ok && c.Status == "False" {
			why += ": " + conditionText(c)
		} else {
			why += ": Antrea has not assigned it to a Node yet"
		}
	case e.ExternalIPPool != "":
		why = fmt.Sprintf("no IP has been allocated from ExternalIPPool %s yet", e.ExternalIPPool)
		if c, ok := e.Condition(EgressIPAllocated); ok && c.Status == "False" {
			why += ": " + conditionText(c)
		}
	case len(e.SpecIPs) > 0 || len(e.ExternalIPPools) > 0:
		why = "it names its IPs in spec.egressIPs or spec.externalIPPools, which Antrea does not support yet (its agent realizes spec.egressIP only)"
	default:
		why = "it has neither spec.egressIP nor spec.externalIPPool"
	}
	return EgressEffect{Named: named, Why: why}
}

func effect(named []netip.Addr, ip netip.Addr) EgressEffect {
	out := EgressEffect{IPs: []netip.Addr{ip}}
	for _, a := range named {
		if a != ip {
			out.Named = append(out.Named, a)
		}
	}
	return out
}

func conditionText(c EgressCondition) string {
	s := c.Type + " False"
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += ", " + c.Message
	}
	return s
}

// EffectiveIPs returns the egress IPs in effect (Effect), sorted: none
// while Antrea has not put one in effect.
func (e *Egress) EffectiveIPs() []netip.Addr { return e.Effect().IPs }

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
