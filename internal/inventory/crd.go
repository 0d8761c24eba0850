package inventory

import (
	"fmt"
	"net/netip"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The structs below decode the fields kordon reads from the Gateway API
// and Antrea CRDs; the versions kordon supports share these shapes, and
// fields kordon does not read are ignored.

// GatewayObject is a gateway.networking.k8s.io Gateway (v1 or v1beta1).
type GatewayObject struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		GatewayClassName string `json:"gatewayClassName"`
		Listeners        []struct {
			Name     string `json:"name"`
			Port     int32  `json:"port"`
			Protocol string `json:"protocol"`
		} `json:"listeners"`
	} `json:"spec"`
	Status struct {
		Addresses []struct {
			Type  *string `json:"type"`
			Value string  `json:"value"`
		} `json:"addresses"`
	} `json:"status"`
}

// EgressObject is a crd.antrea.io Egress (v1beta1 or v1alpha2).
type EgressObject struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		AppliedTo struct {
			PodSelector       *metav1.LabelSelector `json:"podSelector"`
			NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector"`
		} `json:"appliedTo"`
		EgressIP        string   `json:"egressIP"`
		EgressIPs       []string `json:"egressIPs"`
		ExternalIPPool  string   `json:"externalIPPool"`
		ExternalIPPools []string `json:"externalIPPools"`
	} `json:"spec"`
	Status struct {
		EgressNode string   `json:"egressNode"`
		EgressIP   string   `json:"egressIP"`
		EgressIPs  []string `json:"egressIPs"`
	} `json:"status"`
}

// IPPoolObject is a crd.antrea.io IPPool or ExternalIPPool. v1beta1 keeps
// the subnet in spec.subnetInfo; v1alpha2 inlines it in each range.
type IPPoolObject struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		IPVersion  int           `json:"ipVersion"`
		IPRanges   []ipRangeSpec `json:"ipRanges"`
		SubnetInfo *subnetInfo   `json:"subnetInfo"`
		// ExternalIPPool only.
		NodeSelector *metav1.LabelSelector `json:"nodeSelector"`
	} `json:"spec"`
}

type subnetInfo struct {
	Gateway      string `json:"gateway"`
	PrefixLength int32  `json:"prefixLength"`
	VLAN         int32  `json:"vlan"`
}

type ipRangeSpec struct {
	CIDR  string `json:"cidr"`
	Start string `json:"start"`
	End   string `json:"end"`
	subnetInfo
}

// FromGateway converts a Gateway: its bound addresses and listeners.
func FromGateway(cluster string, g *GatewayObject) (*Gateway, error) {
	m, err := meta(cluster, &g.ObjectMeta, true)
	if err != nil {
		return nil, err
	}
	out := &Gateway{Meta: m, ClassName: g.Spec.GatewayClassName}
	for i, a := range g.Status.Addresses {
		t := "IPAddress"
		if a.Type != nil && *a.Type != "" {
			t = *a.Type
		}
		if t != "IPAddress" && !strings.HasSuffix(t, "/IPAddress") {
			out.Hostnames = append(out.Hostnames, a.Value)
			continue
		}
		ip, err := parseAddr(fmt.Sprintf("status.addresses[%d].value", i), a.Value)
		if err != nil {
			return nil, err
		}
		out.Addresses = append(out.Addresses, ip)
	}
	for _, l := range g.Spec.Listeners {
		out.Listeners = append(out.Listeners, Listener{Name: l.Name, Port: l.Port, Protocol: l.Protocol})
	}
	out.Addresses = uniqueAddrs(out.Addresses)
	return out, nil
}

// FromEgress converts an Egress: its selectors and every egress IP it
// names.
func FromEgress(cluster string, e *EgressObject) (*Egress, error) {
	m, err := meta(cluster, &e.ObjectMeta, false)
	if err != nil {
		return nil, err
	}
	out := &Egress{Meta: m, PodSelector: e.Spec.AppliedTo.PodSelector, NamespaceSelector: e.Spec.AppliedTo.NamespaceSelector, EgressNode: e.Status.EgressNode}
	if e.Spec.EgressIP != "" {
		a, err := parseAddr("spec.egressIP", e.Spec.EgressIP)
		if err != nil {
			return nil, err
		}
		out.SpecIPs = append(out.SpecIPs, a)
	}
	for i, s := range e.Spec.EgressIPs {
		a, err := parseAddr(fmt.Sprintf("spec.egressIPs[%d]", i), s)
		if err != nil {
			return nil, err
		}
		out.SpecIPs = append(out.SpecIPs, a)
	}
	if e.Status.EgressIP != "" {
		a, err := parseAddr("status.egressIP", e.Status.EgressIP)
		if err != nil {
			return nil, err
		}
		out.StatusIP = a
	}
	for i, s := range e.Status.EgressIPs {
		a, err := parseAddr(fmt.Sprintf("status.egressIPs[%d]", i), s)
		if err != nil {
			return nil, err
		}
		out.SpecIPs = append(out.SpecIPs, a)
	}
	out.SpecIPs = uniqueAddrs(out.SpecIPs)
	if e.Spec.ExternalIPPool != "" {
		out.ExternalIPPools = []string{e.Spec.ExternalIPPool}
	}
	out.ExternalIPPools = append(out.ExternalIPPools, e.Spec.ExternalIPPools...)
	return out, nil
}

// FromIPPool converts an antrea-ipam IPPool.
func FromIPPool(cluster string, p *IPPoolObject) (*IPPool, error) {
	m, err := meta(cluster, &p.ObjectMeta, false)
	if err != nil {
		return nil, err
	}
	ranges, err := poolRanges(p)
	if err != nil {
		return nil, err
	}
	return &IPPool{Meta: m, Ranges: ranges}, nil
}

// FromExternalIPPool converts an ExternalIPPool.
func FromExternalIPPool(cluster string, p *IPPoolObject) (*ExternalIPPool, error) {
	m, err := meta(cluster, &p.ObjectMeta, false)
	if err != nil {
		return nil, err
	}
	ranges, err := poolRanges(p)
	if err != nil {
		return nil, err
	}
	return &ExternalIPPool{Meta: m, Ranges: ranges, NodeSelector: p.Spec.NodeSelector}, nil
}

func poolRanges(p *IPPoolObject) ([]IPRange, error) {
	var out []IPRange
	for i, r := range p.Spec.IPRanges {
		f := fmt.Sprintf("spec.ipRanges[%d]", i)
		var ir IPRange
		switch {
		case r.CIDR != "" && (r.Start != "" || r.End != ""):
			return nil, fmt.Errorf("%s: has both cidr and start/end", f)
		case r.CIDR != "":
			pfx, err := netip.ParsePrefix(strings.TrimSpace(r.CIDR))
			if err != nil {
				return nil, fmt.Errorf("%s.cidr: %q is not a CIDR", f, r.CIDR)
			}
			ir.CIDR = pfx.Masked()
		case r.Start != "" && r.End != "":
			s, err := parseAddr(f+".start", r.Start)
			if err != nil {
				return nil, err
			}
			e, err := parseAddr(f+".end", r.End)
			if err != nil {
				return nil, err
			}
			if s.Is4() != e.Is4() || e.Less(s) {
				return nil, fmt.Errorf("%s: %s-%s is not a range", f, r.Start, r.End)
			}
			ir.Start, ir.End = s, e
		default:
			return nil, fmt.Errorf("%s: needs cidr, or start and end", f)
		}
		sub := r.subnetInfo
		if p.Spec.SubnetInfo != nil {
			sub = *p.Spec.SubnetInfo
		}
		if sub.Gateway != "" {
			gw, err := parseAddr(f+".gateway", sub.Gateway)
			if err != nil {
				return nil, err
			}
			ir.Gateway = gw
		}
		ir.PrefixLength, ir.VLAN = sub.PrefixLength, sub.VLAN
		out = append(out, ir)
	}
	return out, nil
}
