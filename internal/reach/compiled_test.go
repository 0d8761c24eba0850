package reach

import (
	"net/netip"
	"reflect"
	"testing"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

type members map[string]struct {
	ranges  []string
	ipPorts []address.IPPort
}

func (m members) IPSet(g string) *netipx.IPSet      { return ipSet(m[g].ranges...) }
func (m members) IPPorts(g string) []address.IPPort { return m[g].ipPorts }

// TestCompiledPolicy analyses a ruleset as `kordon advise` gets it: from
// policy.Compile, with categories, a jump, an ALLOWLIST policy's default
// rule (offline, applied to the policy's scope) and a NodePort member.
func TestCompiledPolicy(t *testing.T) {
	const doc = `
resource_type: Infra
children:
- resource_type: ChildService
  Service:
    id: web
    service_entries:
    - {resource_type: L4PortSetServiceEntry, id: http, l4_protocol: TCP, destination_ports: ["80-443"]}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: web, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.1.0/24]}]}}
    - {resource_type: ChildGroup, Group: {id: np, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.250]}]}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: env
        category: Environment
        rules:
        - {id: to-app, sequence_number: 1, source_groups: [10.0.0.0/8], action: JUMP_TO_APPLICATION}
        - {id: block-lab, sequence_number: 2, source_groups: [10.9.0.0/16], action: DROP}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: app
        category: Application
        connectivity_preference: ALLOWLIST
        scope: [/infra/domains/default/groups/web]
        rules:
        - {id: web, sequence_number: 1, destination_groups: [/infra/domains/default/groups/web], services: [/infra/services/web], action: ALLOW}
        - id: web-80
          sequence_number: 2
          destination_groups: [10.0.1.5]
          service_entries: [{resource_type: L4PortSetServiceEntry, id: h, l4_protocol: TCP, destination_ports: ["80"]}]
          action: ALLOW
        - {id: lab-drop, sequence_number: 3, source_groups: [10.9.0.0/16], destination_groups: [/infra/domains/default/groups/web], action: DROP}
        - {id: nodeport, sequence_number: 4, destination_groups: [/infra/domains/default/groups/np], action: ALLOW}
        - id: lab-ssh
          sequence_number: 5
          source_groups: [10.9.1.0/24]
          destination_groups: [/infra/domains/default/groups/web]
          service_entries: [{resource_type: L4PortSetServiceEntry, id: ssh, l4_protocol: TCP, destination_ports: ["22"]}]
          action: REJECT
`
	cfg, err := model.ParseConfig("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	m := members{
		model.GroupPath("default", "web"): {ranges: []string{"10.0.1.0/24"}},
		model.GroupPath("default", "np"): {ipPorts: []address.IPPort{
			{Addr: netip.MustParseAddr("10.0.1.7"), Proto: address.TCP, Port: 30080},
		}},
	}
	rs := policy.Compile(cfg, m, policy.Point{})
	got, err := Analyze(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const env, app = "/infra/domains/default/security-policies/env/rules/", "/infra/domains/default/security-policies/app/rules/"
	want := []Finding{
		// Every 10.9.0.0/16 flow has jumped to Application.
		{Index: 1, Rule: env + "block-lab", Kind: Shadowed, By: []string{env + "to-app"}},
		{Index: 3, Rule: app + "web-80", Kind: Shadowed, By: []string{app + "web"}},
		// lab-drop is not redundant: without it, the NodePort rule would
		// allow 10.9.0.0/16 to 10.0.1.7 TCP 30080. lab-ssh is shadowed
		// by it.
		{Index: 6, Rule: app + "lab-ssh", Kind: Shadowed, By: []string{app + "lab-drop"}},
	}
	if !reflect.DeepEqual(got, want) {
		var paths []string
		for i := range rs.Rules {
			paths = append(paths, rs.Rules[i].Path)
		}
		t.Errorf("got  %s\nwant %s\nrules %q", show(got), show(want), paths)
	}
}
