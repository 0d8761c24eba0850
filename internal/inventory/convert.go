package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kordon-dev/kordon/internal/address"
)

// Annotations kordon reads.
const (
	AnnotationNPLEnabled = "nodeportlocal.antrea.io/enabled"
	AnnotationNPL        = "nodeportlocal.antrea.io"
	AnnotationIPPools    = "ipam.antrea.io/ippools"
)

// ErrIgnored is returned by Convert for kinds kordon does not keep.
var ErrIgnored = errors.New("kind not kept by kordon")

// Source is the API group/version and kind of a Kubernetes object.
type Source struct {
	APIVersion string
	Kind       string
}

// supported lists the API versions kordon reads for each kind it keeps.
var supported = map[string][]string{
	"Node":           {"v1"},
	"Namespace":      {"v1"},
	"Service":        {"v1"},
	"Pod":            {"v1"},
	"Ingress":        {"networking.k8s.io/v1"},
	"Gateway":        {"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"},
	"Egress":         {"crd.antrea.io/v1beta1", "crd.antrea.io/v1alpha2"},
	"IPPool":         {"crd.antrea.io/v1beta1", "crd.antrea.io/v1alpha2"},
	"ExternalIPPool": {"crd.antrea.io/v1beta1", "crd.antrea.io/v1alpha2"},
}

// formerGroups lists API groups that served a kind kordon keeps in
// earlier Kubernetes releases, so that such objects are reported as
// unsupported versions rather than ignored as other projects' kinds.
var formerGroups = map[string][]string{
	"Ingress": {"extensions"},
}

// Convert decodes a Kubernetes object given as JSON into kordon's record
// for it, in the named cluster. It returns ErrIgnored for kinds kordon
// does not keep, and an error naming the field for malformed objects.
func Convert(cluster string, src Source, data []byte) (Object, error) {
	versions, ok := supported[src.Kind]
	if !ok || !versionKnown(src, versions) {
		g := groupOf(src.APIVersion)
		if ok && (g == groupOf(versions[0]) || slices.Contains(formerGroups[src.Kind], g)) {
			return nil, fmt.Errorf("%s %s is not supported (kordon reads %s)", src.Kind, src.APIVersion, strings.Join(versions, ", "))
		}
		return nil, ErrIgnored
	}
	switch src.Kind {
	case "Node":
		var o corev1.Node
		if err := decode(data, &o); err != nil {
			return nil, err
		}
		return object(FromNode(cluster, &o))
	case "Namespace":
		var o corev1.Namespace
		if err := decode(data, &o); err != nil {
			return nil, err
		}
		return object(FromNamespace(cluster, &o))
	case "Service":
		var o corev1.Service
		if err := decode(data, &o); err != nil {
			return nil, err
		}
		return object(FromService(cluster, &o))
	case "Pod":
		var o corev1.Pod
		if err := decode(data, &o); err != nil {
			return nil, err
		}
		return object(FromPod(cluster, &o))
	case "Ingress":
		var o networkingv1.Ingress
		if err := decode(data, &o); err != nil {
			return nil, err
		}
		return object(FromIngress(cluster, &o))
	case "Gateway":
		var o GatewayObject
		if err := decode(data, &o); err != nil {
			return nil, err
		}
		return object(FromGateway(cluster, &o))
	case "Egress":
		var o EgressObject
		if err := decode(data, &o); err != nil {
			return nil, err
		}
		return object(FromEgress(cluster, &o))
	case "IPPool":
		var o IPPoolObject
		if err := decode(data, &o); err != nil {
			return nil, err
		}
		return object(FromIPPool(cluster, &o))
	default:
		var o IPPoolObject
		if err := decode(data, &o); err != nil {
			return nil, err
		}
		return object(FromExternalIPPool(cluster, &o))
	}
}

// object returns o, or nil with the error: a nil *Service must not become
// a non-nil Object.
func object[T Object](o T, err error) (Object, error) {
	if err != nil {
		return nil, err
	}
	return o, nil
}

func versionKnown(src Source, versions []string) bool {
	for _, v := range versions {
		if v == src.APIVersion {
			return true
		}
	}
	return false
}

func groupOf(apiVersion string) string {
	g, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return ""
	}
	return g
}

func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s: expected %s, got %s", te.Field, te.Type, te.Value)
		}
		return err
	}
	return nil
}

func meta(cluster string, om *metav1.ObjectMeta, namespaced bool) (Meta, error) {
	m := Meta{Cluster: cluster, Name: om.Name, UID: string(om.UID), ResourceVersion: om.ResourceVersion, Labels: om.Labels}
	if namespaced {
		m.Namespace = om.Namespace
		if m.Namespace == "" {
			m.Namespace = "default"
		}
	}
	if m.Name == "" {
		return m, fmt.Errorf("metadata.name: missing")
	}
	return m, nil
}

func parseAddr(field, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return a, fmt.Errorf("%s: %q is not an IP address", field, s)
	}
	if a.Zone() != "" {
		// A zoned (link-local) address cannot be matched by a firewall
		// elsewhere in the network.
		return a, fmt.Errorf("%s: %q has a zone; kordon needs addresses routable beyond one link", field, s)
	}
	return a.Unmap(), nil
}

// FromNode converts a Node: its InternalIP addresses and pod CIDRs.
func FromNode(cluster string, n *corev1.Node) (*Node, error) {
	m, err := meta(cluster, &n.ObjectMeta, false)
	if err != nil {
		return nil, err
	}
	out := &Node{Meta: m}
	for i, a := range n.Status.Addresses {
		var dst *[]netip.Addr
		switch a.Type {
		case corev1.NodeInternalIP:
			dst = &out.InternalIPs
		case corev1.NodeExternalIP:
			dst = &out.ExternalIPs
		default:
			continue
		}
		ip, err := parseAddr(fmt.Sprintf("status.addresses[%d].address", i), a.Address)
		if err != nil {
			return nil, err
		}
		*dst = append(*dst, ip)
	}
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for i, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("spec.podCIDRs[%d]: %q is not a CIDR", i, c)
		}
		out.PodCIDRs = append(out.PodCIDRs, p.Masked())
	}
	out.InternalIPs, out.ExternalIPs = uniqueAddrs(out.InternalIPs), uniqueAddrs(out.ExternalIPs)
	return out, nil
}

// FromNamespace converts a Namespace (its labels matter).
func FromNamespace(cluster string, n *corev1.Namespace) (*Namespace, error) {
	m, err := meta(cluster, &n.ObjectMeta, false)
	if err != nil {
		return nil, err
	}
	return &Namespace{Meta: m}, nil
}

// FromService converts a Service: type, ports, selector, load-balancer
// ingress points and the NodePortLocal opt-in.
func FromService(cluster string, s *corev1.Service) (*Service, error) {
	m, err := meta(cluster, &s.ObjectMeta, true)
	if err != nil {
		return nil, err
	}
	out := &Service{Meta: m, Type: ServiceType(s.Spec.Type), Selector: s.Spec.Selector}
	if out.Type == "" {
		out.Type = ServiceClusterIP
	}
	// Antrea's agent acts on the exact value "true" only (its
	// NodePortLocal controller indexes Services by the annotation's value
	// and reads the "true" entries).
	if v, ok := s.Annotations[AnnotationNPLEnabled]; ok {
		if v == "true" {
			out.NodePortLocal = true
		} else {
			out.NodePortLocalIgnored = quoteShort(v)
		}
	}
	ips := s.Spec.ClusterIPs
	if len(ips) == 0 && s.Spec.ClusterIP != "" {
		ips = []string{s.Spec.ClusterIP}
	}
	for i, ip := range ips {
		if ip == corev1.ClusterIPNone || ip == "" {
			continue
		}
		a, err := parseAddr(fmt.Sprintf("spec.clusterIPs[%d]", i), ip)
		if err != nil {
			return nil, err
		}
		out.ClusterIPs = append(out.ClusterIPs, a)
	}
	for i, p := range s.Spec.Ports {
		proto, err := protocol(fmt.Sprintf("spec.ports[%d].protocol", i), string(p.Protocol))
		if err != nil {
			return nil, err
		}
		sp := ServicePort{Name: p.Name, Protocol: proto, Port: p.Port, NodePort: p.NodePort}
		switch {
		case p.TargetPort.StrVal != "":
			sp.TargetPortName = p.TargetPort.StrVal
		case p.TargetPort.IntVal != 0:
			sp.TargetPort = p.TargetPort.IntVal
		default:
			sp.TargetPort = p.Port
		}
		out.Ports = append(out.Ports, sp)
	}
	lb, err := lbIngress("status.loadBalancer.ingress", s.Status.LoadBalancer.Ingress)
	if err != nil {
		return nil, err
	}
	out.LoadBalancer = lb
	return out, nil
}

func protocol(field, s string) (address.Proto, error) {
	if s == "" {
		return address.TCP, nil
	}
	p, err := address.ParseProto(s)
	if err != nil || !p.HasPorts() {
		return 0, fmt.Errorf("%s: %q is not TCP, UDP or SCTP", field, s)
	}
	return p, nil
}

func lbIngress(field string, in []corev1.LoadBalancerIngress) ([]LoadBalancerIngress, error) {
	var out []LoadBalancerIngress
	for i, ing := range in {
		li := LoadBalancerIngress{Hostname: ing.Hostname}
		if ing.IP != "" {
			a, err := parseAddr(fmt.Sprintf("%s[%d].ip", field, i), ing.IP)
			if err != nil {
				return nil, err
			}
			li.IP = a
		}
		for j, p := range ing.Ports {
			proto, err := protocol(fmt.Sprintf("%s[%d].ports[%d].protocol", field, i, j), string(p.Protocol))
			if err != nil {
				return nil, err
			}
			li.Ports = append(li.Ports, PortStatus{Port: p.Port, Protocol: proto})
		}
		out = append(out, li)
	}
	return out, nil
}

// nplEntry is one element of the nodeportlocal.antrea.io annotation.
// Antrea before v1.7 wrote a "protocols" list instead of "protocol".
type nplEntry struct {
	PodPort   int32    `json:"podPort"`
	NodeIP    string   `json:"nodeIP"`
	NodePort  int32    `json:"nodePort"`
	Protocol  string   `json:"protocol"`
	Protocols []string `json:"protocols"`
}

// quoteShort quotes an annotation value for a record: at most 32 bytes
// of it.
func quoteShort(v string) string {
	if len(v) > 32 {
		return strconv.Quote(shortText(v, 32) + "...")
	}
	return strconv.Quote(v)
}

// FromPod converts a Pod: labels, node, addresses, NodePortLocal mappings,
// IPAM pools and named container ports.
func FromPod(cluster string, p *corev1.Pod) (*Pod, error) {
	m, err := meta(cluster, &p.ObjectMeta, true)
	if err != nil {
		return nil, err
	}
	out := &Pod{Meta: m, NodeName: p.Spec.NodeName, HostNetwork: p.Spec.HostNetwork}
	ips := p.Status.PodIPs
	if len(ips) == 0 && p.Status.PodIP != "" {
		ips = []corev1.PodIP{{IP: p.Status.PodIP}}
	}
	for i, ip := range ips {
		a, err := parseAddr(fmt.Sprintf("status.podIPs[%d].ip", i), ip.IP)
		if err != nil {
			return nil, err
		}
		out.IPs = append(out.IPs, a)
	}
	out.NodePortLocal, err = ParseNPL(p.Annotations[AnnotationNPL])
	if err != nil {
		return nil, fmt.Errorf("metadata.annotations[%s]: %v", AnnotationNPL, err)
	}
	if v := strings.TrimSpace(p.Annotations[AnnotationIPPools]); v != "" {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out.IPPools = append(out.IPPools, s)
			}
		}
	}
	if out.NamedPorts, err = namedPorts(p); err != nil {
		return nil, err
	}
	return out, nil
}

// namedPorts returns the named ports of a pod's regular containers, then
// of its sidecars (init containers with restartPolicy Always); an unset
// protocol is TCP, as the API server defaults it.
func namedPorts(p *corev1.Pod) ([]NamedPort, error) {
	var out []NamedPort
	add := func(field string, c *corev1.Container, sidecar bool) error {
		for j, cp := range c.Ports {
			if cp.Name == "" {
				continue
			}
			proto, err := protocol(fmt.Sprintf("%s.ports[%d].protocol", field, j), string(cp.Protocol))
			if err != nil {
				return err
			}
			if cp.ContainerPort < 1 || cp.ContainerPort > 65535 {
				return fmt.Errorf("%s.ports[%d].containerPort: %d is not a port", field, j, cp.ContainerPort)
			}
			out = append(out, NamedPort{Name: cp.Name, Port: cp.ContainerPort, Protocol: proto, Sidecar: sidecar})
		}
		return nil
	}
	for i := range p.Spec.Containers {
		if err := add(fmt.Sprintf("spec.containers[%d]", i), &p.Spec.Containers[i], false); err != nil {
			return nil, err
		}
	}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			if err := add(fmt.Sprintf("spec.initContainers[%d]", i), c, true); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ParseNPL parses the nodeportlocal.antrea.io annotation of a Pod.
func ParseNPL(v string) ([]NPLMapping, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var entries []nplEntry
	if err := json.Unmarshal([]byte(v), &entries); err != nil {
		return nil, fmt.Errorf("not a JSON list of NodePortLocal mappings: %v", err)
	}
	var out []NPLMapping
	for i, e := range entries {
		ip, err := parseAddr(fmt.Sprintf("[%d].nodeIP", i), e.NodeIP)
		if err != nil {
			return nil, err
		}
		if e.NodePort < 1 || e.NodePort > 65535 {
			return nil, fmt.Errorf("[%d].nodePort: %d is not a port", i, e.NodePort)
		}
		protos := e.Protocols
		if e.Protocol != "" {
			protos = []string{e.Protocol}
		}
		if len(protos) == 0 {
			protos = []string{"tcp"}
		}
		for _, ps := range protos {
			proto, err := protocol(fmt.Sprintf("[%d].protocol", i), ps)
			if err != nil {
				return nil, err
			}
			out = append(out, NPLMapping{PodPort: e.PodPort, NodeIP: ip, NodePort: e.NodePort, Protocol: proto})
		}
	}
	return out, nil
}

// FromIngress converts an Ingress: load-balancer ingress points and the
// Services it routes to.
func FromIngress(cluster string, in *networkingv1.Ingress) (*Ingress, error) {
	m, err := meta(cluster, &in.ObjectMeta, true)
	if err != nil {
		return nil, err
	}
	out := &Ingress{Meta: m, TLS: len(in.Spec.TLS) > 0}
	if in.Spec.IngressClassName != nil {
		out.ClassName = *in.Spec.IngressClassName
	}
	for i, ing := range in.Status.LoadBalancer.Ingress {
		li := LoadBalancerIngress{Hostname: ing.Hostname}
		if ing.IP != "" {
			a, err := parseAddr(fmt.Sprintf("status.loadBalancer.ingress[%d].ip", i), ing.IP)
			if err != nil {
				return nil, err
			}
			li.IP = a
		}
		for j, p := range ing.Ports {
			proto, err := protocol(fmt.Sprintf("status.loadBalancer.ingress[%d].ports[%d].protocol", i, j), string(p.Protocol))
			if err != nil {
				return nil, err
			}
			li.Ports = append(li.Ports, PortStatus{Port: p.Port, Protocol: proto})
		}
		out.LoadBalancer = append(out.LoadBalancer, li)
	}
	add := func(b *networkingv1.IngressBackend) {
		if b == nil || b.Service == nil {
			return
		}
		out.Backends = append(out.Backends, IngressBackend{Service: b.Service.Name, Port: b.Service.Port.Number, PortName: b.Service.Port.Name})
	}
	add(in.Spec.DefaultBackend)
	for _, r := range in.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			add(&p.Backend)
		}
	}
	return out, nil
}
