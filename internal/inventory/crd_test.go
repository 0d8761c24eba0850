package inventory

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"go4.org/netipx"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestConvertGateway(t *testing.T) {
	const statusOnly = `
kind: Gateway
metadata: {name: gw, namespace: payments}
status:
  addresses:
`
	meta := Meta{Cluster: testCluster, Namespace: "payments", Name: "gw"}
	var tests []convertCase
	for _, v := range []string{"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"} {
		head := "apiVersion: " + v + "\n"
		tests = append(tests, []convertCase{
			{
				name: v + " class, listeners, typed address",
				yaml: head + `
kind: Gateway
metadata: {name: pay-gw, namespace: payments, uid: gw-1, labels: {app: pay-entry}}
spec:
  gatewayClassName: antrea-lb
  listeners:
  - {name: https, port: 443, protocol: HTTPS, hostname: pay.example.com}
  - {name: dns, port: 53, protocol: UDP}
status:
  addresses:
  - {type: IPAddress, value: 192.168.50.40}
`,
				want: &Gateway{
					Meta:      Meta{Cluster: testCluster, Namespace: "payments", Name: "pay-gw", UID: "gw-1", Labels: map[string]string{"app": "pay-entry"}},
					ClassName: "antrea-lb",
					Addresses: addrs("192.168.50.40"),
					Listeners: []Listener{{Name: "https", Port: 443, Protocol: "HTTPS"}, {Name: "dns", Port: 53, Protocol: "UDP"}},
				},
			},
			{
				name: v + " untyped and empty type are IP addresses",
				yaml: head + statusOnly + "  - {value: 192.168.60.40}\n  - {type: '', value: '2001:db8::40'}\n",
				want: &Gateway{Meta: meta, Addresses: addrs("192.168.60.40", "2001:db8::40")},
			},
			{
				name: v + " domain-prefixed IPAddress type",
				yaml: head + statusOnly + "  - {type: example.com/IPAddress, value: 10.1.1.1}\n",
				want: &Gateway{Meta: meta, Addresses: addrs("10.1.1.1")},
			},
			{
				name: v + " Hostname, NamedAddress and other types are kept as hostnames",
				yaml: head + statusOnly + `  - {type: Hostname, value: gw.example.com}
  - {type: NamedAddress, value: my-reserved-ip}
  - {type: example.com/custom, value: thing}
  - {type: IPAddress, value: 192.168.50.41}
`,
				want: &Gateway{Meta: meta, Addresses: addrs("192.168.50.41"), Hostnames: []string{"gw.example.com", "my-reserved-ip", "thing"}},
			},
			{
				name: v + " addresses sorted and deduplicated, ipv4-mapped unmapped",
				yaml: head + statusOnly + "  - {value: 10.0.0.2}\n  - {value: 'fd00::1'}\n  - {value: 10.0.0.1}\n  - {type: IPAddress, value: '::ffff:10.0.0.2'}\n",
				want: &Gateway{Meta: meta, Addresses: addrs("10.0.0.1", "10.0.0.2", "fd00::1")},
			},
			{
				name:    v + " hostname in an IPAddress",
				yaml:    head + statusOnly + "  - {value: 10.0.0.1}\n  - {type: IPAddress, value: gw.example.com}\n",
				wantErr: `status.addresses[1].value: "gw.example.com" is not an IP address`,
			},
			{
				name:    v + " hostname in an untyped address",
				yaml:    head + statusOnly + "  - {value: gw.example.com}\n",
				wantErr: `status.addresses[0].value: "gw.example.com" is not an IP address`,
			},
			{
				name: v + " no status",
				yaml: head + "kind: Gateway\nmetadata: {name: gw}\nspec: {gatewayClassName: c}\n",
				want: &Gateway{Meta: Meta{Cluster: testCluster, Namespace: "default", Name: "gw"}, ClassName: "c"},
			},
		}...)
	}
	runConvertCases(t, tests)
}

func TestConvertEgress(t *testing.T) {
	var tests []convertCase
	for _, v := range []string{"crd.antrea.io/v1beta1", "crd.antrea.io/v1alpha2"} {
		head := "apiVersion: " + v + "\nkind: Egress\n"
		tests = append(tests, []convertCase{
			{
				name: v + " egressIP with pool, assigned",
				yaml: head + `
metadata: {name: egress-payments, uid: e-1, labels: {purpose: payments}}
spec:
  appliedTo:
    namespaceSelector: {matchLabels: {team: pay}}
  egressIP: 10.10.1.100
  externalIPPool: egress-pool
status:
  egressNode: east-node-3
  egressIP: 10.10.1.100
  conditions:
  - {type: IPAllocated, status: "True", lastTransitionTime: "2026-01-01T00:00:00Z", reason: Allocated, message: EgressIP is successfully allocated}
  - {type: IPAssigned, status: "True", lastTransitionTime: "2026-01-01T00:00:00Z", reason: Assigned, message: EgressIP is successfully assigned to EgressNode}
  - {type: SomethingElse, status: "True"}
`,
				want: &Egress{
					Meta:              Meta{Cluster: testCluster, Name: "egress-payments", UID: "e-1", Labels: map[string]string{"purpose": "payments"}},
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "pay"}},
					SpecIP:            ip("10.10.1.100"),
					ExternalIPPool:    "egress-pool",
					StatusIP:          ip("10.10.1.100"),
					EgressNode:        "east-node-3",
					Conditions: []EgressCondition{
						{Type: EgressIPAllocated, Status: "True", Reason: "Allocated", Message: "EgressIP is successfully allocated"},
						{Type: EgressIPAssigned, Status: "True", Reason: "Assigned", Message: "EgressIP is successfully assigned to EgressNode"},
					},
				},
			},
			{
				name: v + " egressIP from a pool that no node took",
				yaml: head + `
metadata: {name: e}
spec: {egressIP: 10.10.1.101, externalIPPool: egress-pool}
status:
  egressNode: ""
  egressIP: ""
  conditions:
  - {type: IPAssigned, status: "False", reason: AssignmentError, message: "Failed to assign the IP to EgressNode: no Node available\tat all\n(retrying)"}
`,
				want: &Egress{Meta: Meta{Cluster: testCluster, Name: "e"}, SpecIP: ip("10.10.1.101"), ExternalIPPool: "egress-pool",
					Conditions: []EgressCondition{{Type: EgressIPAssigned, Status: "False", Reason: "AssignmentError", Message: "Failed to assign the IP to EgressNode: no Node available at all (retrying)"}}},
			},
			{
				name: v + " egressIPs and externalIPPools, both selectors",
				yaml: head + `
metadata: {name: multi}
spec:
  appliedTo:
    podSelector:
      matchLabels: {app: batch}
      matchExpressions: [{key: tier, operator: In, values: [a, b]}]
    namespaceSelector: {}
  egressIPs: ["fd00::100", 10.10.1.102, 10.10.1.101]
  externalIPPools: [pool-v6, pool-a, pool-b]
status: {egressNode: n2}
`,
				want: &Egress{
					Meta: Meta{Cluster: testCluster, Name: "multi"},
					PodSelector: &metav1.LabelSelector{
						MatchLabels:      map[string]string{"app": "batch"},
						MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
					},
					NamespaceSelector: &metav1.LabelSelector{},
					SpecIPs:           addrs("10.10.1.101", "10.10.1.102", "fd00::100"),
					ExternalIPPools:   []string{"pool-v6", "pool-a", "pool-b"},
					EgressNode:        "n2",
				},
			},
			{
				name: v + " unassigned",
				yaml: head + `
metadata: {name: egress-batch}
spec:
  appliedTo: {podSelector: {matchLabels: {app: batch-report}}}
  externalIPPool: egress-pool
status: {}
`,
				want: &Egress{
					Meta:           Meta{Cluster: testCluster, Name: "egress-batch"},
					PodSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "batch-report"}},
					ExternalIPPool: "egress-pool",
				},
			},
			{
				name: v + " IP allocated from the pool shows in status only",
				yaml: head + "metadata: {name: e}\nspec: {externalIPPool: p}\nstatus: {egressIP: 10.10.1.110, egressNode: n1}\n",
				want: &Egress{Meta: Meta{Cluster: testCluster, Name: "e"}, ExternalIPPool: "p", StatusIP: ip("10.10.1.110"), EgressNode: "n1"},
			},
			{
				name: v + " egressIP and egressIPs together, duplicates dropped",
				yaml: head + "metadata: {name: e, namespace: ignored}\nspec: {egressIP: 10.0.0.3, egressIPs: [10.0.0.3, 10.0.0.1, 10.0.0.3], externalIPPool: a, externalIPPools: [b]}\n",
				want: &Egress{Meta: Meta{Cluster: testCluster, Name: "e"}, SpecIP: ip("10.0.0.3"), SpecIPs: addrs("10.0.0.1", "10.0.0.3"), ExternalIPPool: "a", ExternalIPPools: []string{"b"}},
			},
			{
				name:    v + " bad egressIP",
				yaml:    head + "metadata: {name: e}\nspec: {egressIP: 10.0.0.999}\n",
				wantErr: `spec.egressIP: "10.0.0.999" is not an IP address`,
			},
			{
				name:    v + " bad egressIPs element",
				yaml:    head + "metadata: {name: e}\nspec: {egressIPs: [10.0.0.1, egress.example.com]}\n",
				wantErr: `spec.egressIPs[1]: "egress.example.com" is not an IP address`,
			},
			{
				name:    v + " bad status egressIP",
				yaml:    head + "metadata: {name: e}\nstatus: {egressIP: none}\n",
				wantErr: `status.egressIP: "none" is not an IP address`,
			},
		}...)
	}
	runConvertCases(t, tests)
}

// TestConvertEgressLongConditionMessage: a condition message is kept
// short and on one line, so the Egress stays valid.
func TestConvertEgressLongConditionMessage(t *testing.T) {
	msg := `\e[31m` + strings.Repeat("é", 300)
	o, err := convertYAML(t, "apiVersion: crd.antrea.io/v1beta1\nkind: Egress\nmetadata: {name: e}\nspec: {egressIP: 10.0.0.1, externalIPPool: p}\n"+
		"status: {conditions: [{type: IPAssigned, status: \"False\", message: \""+msg+"\"}]}\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(o); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	c := o.(*Egress).Conditions[0]
	if len(c.Message) > maxConditionMessage || !utf8.ValidString(c.Message) || strings.ContainsRune(c.Message, 0x1b) {
		t.Errorf("message kept as %q (%d bytes)", c.Message, len(c.Message))
	}
}

// TestEgressEffect follows antrea-agent's egress controller
// (pkg/agent/controller/egress/egress_controller.go): syncEgress takes
// spec.egressIP as given when the Egress has no ExternalIPPool
// (isEgressSchedulable is false: the agent never reads the status for
// it), and otherwise realizes only the IP its scheduler placed on a
// Node, which updateEgressStatus then reports in status.egressIP and
// status.egressNode (or clears, with IPAssigned False and the error).
// The controller (pkg/controller/egress/controller.go, syncEgressIP and
// updateEgressAllocatedCondition) allocates spec.egressIP from the pool
// and reports IPAllocated. spec.egressIPs is refused by the webhook
// (pkg/controller/egress/validate.go: "not supported yet") and read by
// no agent code; Antrea before v1.12 reported status.egressNode only
// (updateEgressStatus before the status.egressIP field was added).
func TestEgressEffect(t *testing.T) {
	assignErr := EgressCondition{Type: EgressIPAssigned, Status: "False", Reason: "AssignmentError", Message: "Failed to assign the IP to EgressNode: no Node available"}
	allocErr := EgressCondition{Type: EgressIPAllocated, Status: "False", Reason: "AllocationError", Message: "Cannot allocate EgressIP from ExternalIPPool: no available IP"}
	tests := []struct {
		name  string
		e     Egress
		ips   []netip.Addr
		named []netip.Addr
		why   string
	}{
		{"nothing", Egress{}, nil, nil, "it has neither spec.egressIP nor spec.externalIPPool"},
		{"manual IP without status", Egress{SpecIP: ip("10.0.0.1")}, addrs("10.0.0.1"), nil, ""},
		{"manual IP reported by its node", Egress{SpecIP: ip("10.0.0.1"), StatusIP: ip("10.0.0.1"), EgressNode: "n1"}, addrs("10.0.0.1"), nil, ""},
		{"manual IP changed, status not yet", Egress{SpecIP: ip("10.0.0.2"), StatusIP: ip("10.0.0.1"), EgressNode: "n1"}, addrs("10.0.0.2"), addrs("10.0.0.1"), ""},
		{"pool IP assigned", Egress{SpecIP: ip("10.0.0.1"), ExternalIPPool: "p", StatusIP: ip("10.0.0.1"), EgressNode: "n1"}, addrs("10.0.0.1"), nil, ""},
		{"pool IP that no node took", Egress{SpecIP: ip("10.0.0.1"), ExternalIPPool: "p"}, nil, addrs("10.0.0.1"),
			"10.0.0.1 comes from ExternalIPPool p but no Node has taken it (status.egressIP is empty): Antrea has not assigned it to a Node yet"},
		{"pool IP, IPAssigned False", Egress{SpecIP: ip("10.0.0.1"), ExternalIPPool: "p", Conditions: []EgressCondition{assignErr}}, nil, addrs("10.0.0.1"),
			"10.0.0.1 comes from ExternalIPPool p but no Node has taken it (status.egressIP is empty): IPAssigned False (AssignmentError), Failed to assign the IP to EgressNode: no Node available"},
		{"pool IP, IPAssigned False with a node left over", Egress{SpecIP: ip("10.0.0.1"), ExternalIPPool: "p", EgressNode: "n1", Conditions: []EgressCondition{assignErr}}, nil, addrs("10.0.0.1"),
			"10.0.0.1 comes from ExternalIPPool p but no Node has taken it (status.egressIP is empty): IPAssigned False (AssignmentError), Failed to assign the IP to EgressNode: no Node available"},
		{"pool IP moved, status stale", Egress{SpecIP: ip("10.0.0.2"), ExternalIPPool: "p", StatusIP: ip("10.0.0.1"), EgressNode: "n1"}, nil, addrs("10.0.0.1", "10.0.0.2"),
			"status.egressIP 10.0.0.1 is stale: spec.egressIP is now 10.0.0.2, which no Node has reported taking yet"},
		{"pool IP, Antrea before v1.12", Egress{SpecIP: ip("10.0.0.1"), ExternalIPPool: "p", EgressNode: "n1"}, addrs("10.0.0.1"), nil, ""},
		{"pool, nothing allocated", Egress{ExternalIPPool: "p"}, nil, nil, "no IP has been allocated from ExternalIPPool p yet"},
		{"pool exhausted", Egress{ExternalIPPool: "p", Conditions: []EgressCondition{allocErr}}, nil, nil,
			"no IP has been allocated from ExternalIPPool p yet: IPAllocated False (AllocationError), Cannot allocate EgressIP from ExternalIPPool: no available IP"},
		{"pool, IP in status only", Egress{ExternalIPPool: "p", StatusIP: ip("10.0.0.9"), EgressNode: "n1"}, addrs("10.0.0.9"), nil, ""},
		{"status only", Egress{StatusIP: ip("10.0.0.9")}, addrs("10.0.0.9"), nil, ""},
		{"egressIPs only", Egress{SpecIPs: addrs("10.0.0.5", "fd00::1"), ExternalIPPools: []string{"a", "b"}}, nil, addrs("10.0.0.5", "fd00::1"),
			"it names its IPs in spec.egressIPs or spec.externalIPPools, which Antrea does not support yet (its agent realizes spec.egressIP only)"},
		{"egressIPs beside a manual egressIP", Egress{SpecIP: ip("10.0.0.1"), SpecIPs: addrs("10.0.0.5")}, addrs("10.0.0.1"), addrs("10.0.0.5"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := slices.Clone(tt.e.SpecIPs)
			got := tt.e.Effect()
			if !slices.Equal(got.IPs, tt.ips) || !slices.Equal(got.Named, tt.named) || got.Why != tt.why {
				t.Errorf("Effect() = %+v, want IPs %v, Named %v, Why %q", got, tt.ips, tt.named, tt.why)
			}
			if !slices.Equal(tt.e.EffectiveIPs(), tt.ips) {
				t.Errorf("EffectiveIPs() = %v, want %v", tt.e.EffectiveIPs(), tt.ips)
			}
			if !slices.Equal(spec, tt.e.SpecIPs) {
				t.Errorf("Effect() changed SpecIPs to %v (was %v)", tt.e.SpecIPs, spec)
			}
		})
	}
}

func TestConvertIPPool(t *testing.T) {
	meta := Meta{Cluster: testCluster, Name: "pool"}
	runConvertCases(t, []convertCase{
		{
			name: "v1beta1 ranges share subnetInfo",
			yaml: `
apiVersion: crd.antrea.io/v1beta1
kind: IPPool
metadata: {name: routable-pool, uid: p-1, labels: {routable: "true"}}
spec:
  ipRanges:
  - {cidr: 10.20.0.0/25}
  - {start: 10.20.0.200, end: 10.20.0.220}
  subnetInfo: {gateway: 10.20.0.1, prefixLength: 24, vlan: 120}
status:
  ipAddresses: [{ipAddress: 10.20.0.15, phase: Allocated, owner: {pod: {name: ledger-0, namespace: payments}}}]
`,
			want: &IPPool{
				Meta: Meta{Cluster: testCluster, Name: "routable-pool", UID: "p-1", Labels: map[string]string{"routable": "true"}},
				Ranges: []IPRange{
					{CIDR: netip.MustParsePrefix("10.20.0.0/25"), Gateway: ip("10.20.0.1"), PrefixLength: 24, VLAN: 120},
					{Start: ip("10.20.0.200"), End: ip("10.20.0.220"), Gateway: ip("10.20.0.1"), PrefixLength: 24, VLAN: 120},
				},
			},
		},
		{
			name: "v1beta1 CIDR host bits masked, ipv6",
			yaml: "apiVersion: crd.antrea.io/v1beta1\nkind: IPPool\nmetadata: {name: pool}\nspec:\n  ipRanges: [{cidr: ' 10.20.0.77/25 '}, {cidr: 'fd00:20::5/120'}]\n  subnetInfo: {gateway: 10.20.0.1, prefixLength: 24}\n",
			want: &IPPool{Meta: meta, Ranges: []IPRange{
				{CIDR: netip.MustParsePrefix("10.20.0.0/25"), Gateway: ip("10.20.0.1"), PrefixLength: 24},
				{CIDR: netip.MustParsePrefix("fd00:20::/120"), Gateway: ip("10.20.0.1"), PrefixLength: 24},
			}},
		},
		{
			name: "v1alpha2 flat ranges each with their subnet",
			yaml: `
apiVersion: crd.antrea.io/v1alpha2
kind: IPPool
metadata: {name: west-pool, labels: {routable: "true"}}
spec:
  ipVersion: 4
  ipRanges:
  - {start: 10.40.0.10, end: 10.40.0.50, gateway: 10.40.0.1, prefixLength: 24}
  - {cidr: 10.41.0.0/26, gateway: 10.41.0.1, prefixLength: 26, vlan: 41}
`,
			want: &IPPool{
				Meta: Meta{Cluster: testCluster, Name: "west-pool", Labels: map[string]string{"routable": "true"}},
				Ranges: []IPRange{
					{Start: ip("10.40.0.10"), End: ip("10.40.0.50"), Gateway: ip("10.40.0.1"), PrefixLength: 24},
					{CIDR: netip.MustParsePrefix("10.41.0.0/26"), Gateway: ip("10.41.0.1"), PrefixLength: 26, VLAN: 41},
				},
			},
		},
		{
			name: "v1alpha2 ipv6",
			yaml: "apiVersion: crd.antrea.io/v1alpha2\nkind: IPPool\nmetadata: {name: pool}\nspec:\n  ipVersion: 6\n  ipRanges: [{start: 'fd00:40::10', end: 'fd00:40::50', gateway: 'fd00:40::1', prefixLength: 64}]\n",
			want: &IPPool{Meta: meta, Ranges: []IPRange{{Start: ip("fd00:40::10"), End: ip("fd00:40::50"), Gateway: ip("fd00:40::1"), PrefixLength: 64}}},
		},
		{
			name: "range without subnet",
			yaml: "apiVersion: crd.antrea.io/v1alpha2\nkind: IPPool\nmetadata: {name: pool}\nspec: {ipRanges: [{start: 10.0.0.1, end: 10.0.0.1}]}\n",
			want: &IPPool{Meta: meta, Ranges: []IPRange{{Start: ip("10.0.0.1"), End: ip("10.0.0.1")}}},
		},
		{
			name: "no ranges",
			yaml: "apiVersion: crd.antrea.io/v1beta1\nkind: IPPool\nmetadata: {name: pool}\n",
			want: &IPPool{Meta: meta},
		},
		{
			name:    "both cidr and start",
			yaml:    "apiVersion: crd.antrea.io/v1beta1\nkind: IPPool\nmetadata: {name: pool}\nspec: {ipRanges: [{cidr: 10.0.0.0/24}, {cidr: 10.0.1.0/24, start: 10.0.1.1}]}\n",
			wantErr: "spec.ipRanges[1]: has both cidr and start/end",
		},
		{
			name:    "start without end",
			yaml:    "apiVersion: crd.antrea.io/v1beta1\nkind: IPPool\nmetadata: {name: pool}\nspec: {ipRanges: [{start: 10.0.1.1}]}\n",
			wantErr: "spec.ipRanges[0]: needs cidr, or start and end",
		},
		{
			name:    "empty range",
			yaml:    "apiVersion: crd.antrea.io/v1beta1\nkind: IPPool\nmetadata: {name: pool}\nspec: {ipRanges: [{}]}\n",
			wantErr: "spec.ipRanges[0]: needs cidr, or start and end",
		},
		{
			name:    "bad cidr",
			yaml:    "apiVersion: crd.antrea.io/v1beta1\nkind: IPPool\nmetadata: {name: pool}\nspec: {ipRanges: [{cidr: 10.0.0.0/40}]}\n",
			wantErr: `spec.ipRanges[0].cidr: "10.0.0.0/40" is not a CIDR`,
		},
		{
			name:    "bad start",
			yaml:    "apiVersion: crd.antrea.io/v1alpha2\nkind: IPPool\nmetadata: {name: pool}\nspec: {ipRanges: [{start: first, end: 10.0.0.9}]}\n",
			wantErr: `spec.ipRanges[0].start: "first" is not an IP address`,
		},
		{
			name:    "bad end",
			yaml:    "apiVersion: crd.antrea.io/v1alpha2\nkind: IPPool\nmetadata: {name: pool}\nspec: {ipRanges: [{start: 10.0.0.1, end: last}]}\n",
			wantErr: `spec.ipRanges[0].end: "last" is not an IP address`,
		},
		{
			name:    "reversed range",
			yaml:    "apiVersion: crd.antrea.io/v1alpha2\nkind: IPPool\nmetadata: {name: pool}\nspec: {ipRanges: [{start: 10.0.0.9, end: 10.0.0.1}]}\n",
			wantErr: "spec.ipRanges[0]: 10.0.0.9-10.0.0.1 is not a range",
		},
		{
			name:    "mixed families",
			yaml:    "apiVersion: crd.antrea.io/v1alpha2\nkind: IPPool\nmetadata: {name: pool}\nspec: {ipRanges: [{start: 10.0.0.1, end: 'fd00::1'}]}\n",
			wantErr: "spec.ipRanges[0]: 10.0.0.1-fd00::1 is not a range",
		},
		{
			name:    "bad v1beta1 gateway",
			yaml:    "apiVersion: crd.antrea.io/v1beta1\nkind: IPPool\nmetadata: {name: pool}\nspec: {ipRanges: [{cidr: 10.0.0.0/24}], subnetInfo: {gateway: gw, prefixLength: 24}}\n",
			wantErr: `spec.ipRanges[0].gateway: "gw" is not an IP address`,
		},
		{
			name:    "bad v1alpha2 gateway",
			yaml:    "apiVersion: crd.antrea.io/v1alpha2\nkind: IPPool\nmetadata: {name: pool}\nspec: {ipRanges: [{cidr: 10.0.0.0/24, gateway: 10.0.0.256}]}\n",
			wantErr: `spec.ipRanges[0].gateway: "10.0.0.256" is not an IP address`,
		},
	})
}

func TestConvertExternalIPPool(t *testing.T) {
	var tests []convertCase
	for _, v := range []string{"crd.antrea.io/v1beta1", "crd.antrea.io/v1alpha2"} {
		tests = append(tests, []convertCase{
			{
				name: v + " with nodeSelector",
				yaml: "apiVersion: " + v + `
kind: ExternalIPPool
metadata: {name: egress-pool, labels: {use: egress}}
spec:
  ipRanges: [{start: 10.10.1.100, end: 10.10.1.120}, {cidr: 10.10.2.0/28}]
  subnetInfo: {gateway: 10.10.1.1, prefixLength: 24, vlan: 10}
  nodeSelector:
    matchLabels: {egress-gateway: "true"}
status: {usage: {total: 37, used: 1}}
`,
				want: &ExternalIPPool{
					Meta: Meta{Cluster: testCluster, Name: "egress-pool", Labels: map[string]string{"use": "egress"}},
					Ranges: []IPRange{
						{Start: ip("10.10.1.100"), End: ip("10.10.1.120"), Gateway: ip("10.10.1.1"), PrefixLength: 24, VLAN: 10},
						{CIDR: netip.MustParsePrefix("10.10.2.0/28"), Gateway: ip("10.10.1.1"), PrefixLength: 24, VLAN: 10},
					},
					NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"egress-gateway": "true"}},
				},
			},
			{
				name: v + " without nodeSelector",
				yaml: "apiVersion: " + v + "\nkind: ExternalIPPool\nmetadata: {name: lb-pool}\nspec: {ipRanges: [{cidr: 192.168.50.0/24}]}\n",
				want: &ExternalIPPool{
					Meta:   Meta{Cluster: testCluster, Name: "lb-pool"},
					Ranges: []IPRange{{CIDR: netip.MustParsePrefix("192.168.50.0/24")}},
				},
			},
			{
				name:    v + " bad range",
				yaml:    "apiVersion: " + v + "\nkind: ExternalIPPool\nmetadata: {name: p}\nspec: {ipRanges: [{cidr: 10.0.0.0/24}, {end: 10.0.0.1}]}\n",
				wantErr: "spec.ipRanges[1]: needs cidr, or start and end",
			},
		}...)
	}
	runConvertCases(t, tests)
}

func TestIPRangeRange(t *testing.T) {
	tests := []struct {
		name string
		r    IPRange
		want netipx.IPRange
	}{
		{"cidr", IPRange{CIDR: netip.MustParsePrefix("10.20.0.0/25")}, rangeOf("10.20.0.0", "10.20.0.127")},
		{"cidr with host bits", IPRange{CIDR: netip.MustParsePrefix("10.20.0.77/24")}, rangeOf("10.20.0.0", "10.20.0.255")},
		{"cidr /32", IPRange{CIDR: netip.MustParsePrefix("10.20.0.5/32")}, rangeOf("10.20.0.5", "10.20.0.5")},
		{"ipv6 cidr", IPRange{CIDR: netip.MustParsePrefix("fd00::/120")}, rangeOf("fd00::", "fd00::ff")},
		{"start and end", IPRange{Start: ip("10.40.0.10"), End: ip("10.40.0.50"), Gateway: ip("10.40.0.1"), PrefixLength: 24}, rangeOf("10.40.0.10", "10.40.0.50")},
		{"single address", IPRange{Start: ip("10.40.0.10"), End: ip("10.40.0.10")}, rangeOf("10.40.0.10", "10.40.0.10")},
		{"cidr wins over start and end", IPRange{CIDR: netip.MustParsePrefix("10.0.0.0/30"), Start: ip("10.9.0.0"), End: ip("10.9.0.9")}, rangeOf("10.0.0.0", "10.0.0.3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Range(); got != tt.want {
				t.Errorf("Range() = %v, want %v", got, tt.want)
			}
		})
	}
	if r := (IPRange{}).Range(); r.IsValid() {
		t.Errorf("zero IPRange.Range() = %v, want an invalid range", r)
	}
}

func rangeOf(from, to string) netipx.IPRange { return netipx.IPRangeFrom(ip(from), ip(to)) }
