package inventory

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

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
		EgressNode string `json:"egressNode"`
		EgressIP   string `json:"egressIP"`
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
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

// FromEgress converts an Egress: its selectors, the IPs and pools its
// spec names, and what Antrea reports in its status (the IP in effect,
// its Node, and the IPAllocated and IPAssigned conditions), from which
// Egress.Effect decides which IP is in effect.
func FromEgress(cluster string, e *EgressObject) (*Egress, error) {
	m, err := meta(cluster, &e.ObjectMeta, false)
	if err != nil {
		return nil, err
	}
	out := &Egress{Meta: m, PodSelector: e.Spec.AppliedTo.PodSelector, NamespaceSelector: e.Spec.AppliedTo.NamespaceSelector,
		ExternalIPPool: e.Spec.ExternalIPPool, ExternalIPPools: e.Spec.ExternalIPPools, EgressNode: e.Status.EgressNode}
	if e.Spec.EgressIP != "" {
		if out.SpecIP, err = parseAddr("spec.egressIP", e.Spec.EgressIP); err != nil {
			return nil, err
		}
	}
	for i, s := range e.Spec.EgressIPs {
		a, err := parseAddr(fmt.Sprintf("spec.egressIPs[%d]", i), s)
		if err != nil {
			return nil, err
		}
		out.SpecIPs = append(out.SpecIPs, a)
	}
	out.SpecIPs = uniqueAddrs(out.SpecIPs)
	if e.Status.EgressIP != "" {
		if out.StatusIP, err = parseAddr("status.egressIP", e.Status.EgressIP); err != nil {
			return nil, err
		}
	}
	for _, c := range e.Status.Conditions {
		if c.Type != EgressIPAllocated && c.Type != EgressIPAssigned {
			continue
		}
		out.Conditions = append(out.Conditions, EgressCondition{Type: c.Type, Status: shortText(c.Status, 16),
			Reason: shortText(c.Reason, 64), Message: shortText(c.Message, maxConditionMessage)})
	}
	return out, nil
}

// maxConditionMessage bounds the condition messages kept of an Egress.
const maxConditionMessage = 256

// shortText makes text from a cluster fit a record: one line of
// printable characters (others become spaces), at most max bytes.
func shortText(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if !printable(string(r)) {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
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
