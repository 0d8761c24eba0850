package model

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// richDoc uses every expression type, every entry type, both policy kinds,
// pointers, tags, tier extras and several domains.
const richDoc = `
resource_type: Infra
children:
- resource_type: ChildTier0
  Tier0: {id: t0, ha_mode: ACTIVE_STANDBY, bgp: {enabled: true, asn: "65001"}, tags: [{scope: env, tag: prod}]}
- resource_type: ChildTier1
  Tier1: {id: t1, tier0_path: /infra/tier-0s/t0, route_advertisement_types: [TIER1_CONNECTED], description: edge}
- resource_type: ChildService
  Service:
    id: mixed
    service_type: NSService
    service_entries:
    - {resource_type: L4PortSetServiceEntry, id: tcp, l4_protocol: TCP, source_ports: [1024-65535], destination_ports: [80, "443", "8000-8080"]}
    - {resource_type: ICMPTypeServiceEntry, id: ping, protocol: ICMPv4, icmp_type: 8, icmp_code: 0}
    - {resource_type: ICMPTypeServiceEntry, id: any6, protocol: ICMPv6}
    - {resource_type: IPProtocolServiceEntry, id: gre, protocol_number: 47}
    - {resource_type: IPProtocolServiceEntry, id: hopopt, protocol_number: 0}
    - {resource_type: IGMPTypeServiceEntry, id: igmp}
    - {resource_type: NestedServiceServiceEntry, id: https, nested_service_path: /infra/services/HTTPS}
    - {resource_type: EtherTypeServiceEntry, id: arp, ether_type: 2054}
    children:
    - resource_type: ChildServiceEntry
      ServiceEntry: {resource_type: ALGTypeServiceEntry, id: ftp, alg: FTP, destination_ports: ["21"]}
- resource_type: ChildDomain
  Domain:
    id: default
    description: the default domain
    children:
    - resource_type: ChildGroup
      Group:
        id: k8s
        display_name: Kubernetes things
        tags: [{scope: "dis:k8s:app", tag: web}, {tag: bare}]
        expression:
        - resource_type: NestedExpression
          id: n1
          expressions:
          - {resource_type: Condition, id: c1, member_type: KubernetesCluster, key: Name, operator: IN, value: "a,b"}
          - {resource_type: ConjunctionOperator, id: j1, conjunction_operator: AND}
          - {resource_type: Condition, member_type: KubernetesService, key: Tag, operator: EQUALS, scope_operator: EQUALS, value: "dis:k8s:app|web"}
        - {resource_type: ConjunctionOperator, conjunction_operator: OR}
        - {resource_type: Condition, member_type: KubernetesNode, key: PodCidr, operator: MATCHES, value: "*"}
        - {resource_type: ConjunctionOperator, conjunction_operator: OR}
        - {resource_type: IPAddressExpression, ip_addresses: [10.0.0.1, "fd00::/64"]}
        - {resource_type: ConjunctionOperator, conjunction_operator: OR}
        - {resource_type: PathExpression, paths: [/infra/domains/default/groups/vms]}
        - {resource_type: ConjunctionOperator, conjunction_operator: OR}
        - {resource_type: GeoLocationExpression, country_code: [DE]}
    - resource_type: ChildGroup
      Group:
        id: vms
        group_type: [IPAddress]
        expression: [{resource_type: IPAddressExpression, ip_addresses: [192.0.2.0/24]}]
    - resource_type: ChildGroup
      Group:
        id: excluded
        expression:
        - {resource_type: Condition, member_type: VirtualMachine, key: Name, operator: STARTSWITH, value: web, exclude: {member_paths: [/x]}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: dfw
        category: Application
        sequence_number: 7
        stateful: true
        tcp_strict: false
        scope: [/infra/domains/default/groups/vms]
        connectivity_preference: ALLOWLIST
        comments: hello
        rules:
        - id: r1
          sequence_number: 1
          action: DROP
          direction: IN
          ip_protocol: IPV4
          source_groups: [/infra/domains/default/groups/k8s, 10.1.1.0/24]
          sources_excluded: true
          destination_groups: [ANY]
          services: [/infra/services/mixed, /infra/services/HTTP]
          service_entries:
          - {resource_type: L4PortSetServiceEntry, id: inline, l4_protocol: UDP, destination_ports: [53]}
          - {resource_type: ALGTypeServiceEntry, id: alg, alg: TFTP}
          scope: [/infra/domains/default/groups/vms]
          logged: true
          disabled: true
          notes: some notes
          tag: t
        children:
        - resource_type: ChildRule
          Rule: {id: r2, action: ALLOW, profiles: [ANY]}
    - resource_type: ChildGatewayPolicy
      GatewayPolicy:
        id: gfw
        category: LocalGatewayRules
        scope: [/infra/tier-1s/t1]
        rules:
        - {id: g1, action: REJECT, destinations_excluded: true, destination_groups: [/infra/domains/default/groups/vms]}
        - {id: g2, scope: [/infra/tier-0s/t0]}
- resource_type: ChildDomain
  Domain:
    id: prod
    children:
    - resource_type: ChildGroup
      Group: {id: g, expression: [{resource_type: Condition, member_type: VirtualMachine, key: Tag, operator: EQUALS, value: "|x"}]}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy: {id: p, category: Emergency, rules: [{id: r}]}
    - resource_type: ChildGatewayPolicy
      GatewayPolicy: {id: gp, category: SharedPreRules, rules: [{id: r, scope: [/infra/tier-1s/t1]}]}
`

// TestRoundTrip decodes a rich document, applies it, writes the
// configuration back as a hierarchical document, decodes and applies that,
// and compares.
func TestRoundTrip(t *testing.T) {
	for _, project := range []string{"", "dev"} {
		t.Run("project="+project, func(t *testing.T) {
			c1 := applyDocs(t, NewConfig(), project, richDoc)
			b, err := json.Marshal(exportInfra(c1, project))
			if err != nil {
				t.Fatal(err)
			}
			checkResourceTypes(t, b)
			docs, err := ParseDocument("export.json", b)
			if err != nil {
				t.Fatalf("decoding the export: %v\n%s", err, b)
			}
			c2, _, err := NewConfig().Apply(project, docs[0])
			if err != nil {
				t.Fatalf("applying the export: %v", err)
			}
			want, got := canonical(t, c1), canonical(t, c2)
			if !reflect.DeepEqual(got, want) {
				for p := range want {
					if got[p] != want[p] {
						t.Errorf("%s differs:\n got %s\nwant %s", p, got[p], want[p])
					}
				}
				for p := range got {
					if _, ok := want[p]; !ok {
						t.Errorf("extra object %s", p)
					}
				}
			}
			// Writing the second configuration gives the same bytes.
			b2, err := json.Marshal(exportInfra(c2, project))
			if err != nil {
				t.Fatal(err)
			}
			if string(b2) != string(b) {
				t.Errorf("export is not stable:\n%s\n%s", b, b2)
			}
			// The configuration validates the same way both times.
			if e1, e2 := c1.Validate(), c2.Validate(); !reflect.DeepEqual(e1, e2) {
				t.Errorf("validation differs:\n%v\n%v", e1, e2)
			}
		})
	}
}

// TestRoundTripStandalone writes every object on its own, as NSX lists
// them, and loads the list back.
func TestRoundTripStandalone(t *testing.T) {
	c1 := configOf(t, richDoc)
	var objs []any
	order := []func(){
		func() {
			for _, p := range Paths(c1.Domains) {
				objs = append(objs, c1.Domains[p])
			}
		},
		func() {
			for _, p := range Paths(c1.Tier0s) {
				objs = append(objs, c1.Tier0s[p])
			}
			for _, p := range Paths(c1.Tier1s) {
				objs = append(objs, c1.Tier1s[p])
			}
			for _, p := range Paths(c1.Services) {
				objs = append(objs, c1.Services[p])
			}
			for _, p := range Paths(c1.Groups) {
				objs = append(objs, c1.Groups[p])
			}
			for _, p := range Paths(c1.SecurityPolicies) {
				objs = append(objs, c1.SecurityPolicies[p])
			}
			for _, p := range Paths(c1.GatewayPolicies) {
				objs = append(objs, c1.GatewayPolicies[p])
			}
			for _, p := range Paths(c1.Rules) {
				objs = append(objs, c1.Rules[p])
			}
		},
	}
	for _, f := range order {
		f()
	}
	b, err := json.Marshal(map[string]any{"results": objs, "result_count": len(objs)})
	if err != nil {
		t.Fatal(err)
	}
	checkResourceTypes(t, b)
	c2 := configOf(t, string(b))
	if want, got := canonical(t, c1), canonical(t, c2); !reflect.DeepEqual(got, want) {
		t.Errorf("standalone round trip differs")
		for p := range want {
			if got[p] != want[p] {
				t.Errorf("%s:\n got %s\nwant %s", p, got[p], want[p])
			}
		}
	}
}

// checkResourceTypes walks a marshalled document and requires resource_type
// on every object in children, expression, expressions and service_entries
// lists and on every wrapped object.
func checkResourceTypes(t *testing.T, b []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				switch k {
				case "children", "expression", "expressions", "service_entries":
					list, _ := c.([]any)
					for _, e := range list {
						m, ok := e.(map[string]any)
						if !ok {
							t.Errorf("%s.%s holds %T", where, k, e)
							continue
						}
						rt, _ := m["resource_type"].(string)
						if rt == "" {
							t.Errorf("%s.%s element without resource_type: %v", where, k, m)
						}
						counts[rt]++
					}
				case "Domain", "Group", "Service", "SecurityPolicy", "GatewayPolicy", "Rule", "Tier0", "Tier1", "ServiceEntry":
					m, _ := c.(map[string]any)
					if rt, _ := m["resource_type"].(string); rt == "" || (k != "ServiceEntry" && rt != k) {
						t.Errorf("%s.%s has resource_type %q", where, k, rt)
					}
				}
				walk(where+"."+k, c)
			}
		case []any:
			for _, e := range x {
				walk(where+"[]", e)
			}
		}
	}
	walk("", v)
	// Every kind of element appeared, so the check saw them all.
	for _, rt := range []string{"Condition", "ConjunctionOperator", "NestedExpression", "IPAddressExpression", "PathExpression", "GeoLocationExpression",
		"L4PortSetServiceEntry", "ICMPTypeServiceEntry", "IPProtocolServiceEntry", "IGMPTypeServiceEntry", "NestedServiceServiceEntry", "EtherTypeServiceEntry", "ALGTypeServiceEntry"} {
		if counts[rt] == 0 {
			t.Errorf("no %s in the marshalled document", rt)
		}
	}
}

func TestMarshalExpressionList(t *testing.T) {
	l := ExpressionList{
		&Condition{MemberType: MemberKubernetesService, Key: KeyName, Operator: OpEquals, Value: "web"},
		&ConjunctionOperator{ConjunctionOperator: ConjOr},
		&NestedExpression{Expressions: ExpressionList{&Condition{ID: "c", MemberType: MemberAntreaEgress, Key: KeyTag, Operator: OpEquals, Value: "a|b"}}},
		&ConjunctionOperator{ConjunctionOperator: ConjOr},
		&IPAddressExpression{IPAddresses: []string{"10.0.0.1"}},
		&ConjunctionOperator{ConjunctionOperator: ConjOr},
		&PathExpression{Paths: []string{"/infra/domains/default/groups/g"}},
		&ConjunctionOperator{ConjunctionOperator: ConjOr},
		&UnsupportedExpression{Type: "MACAddressExpression", Raw: json.RawMessage(`{"resource_type":"MACAddressExpression","mac_addresses":["aa"]}`)},
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"key":"Name","member_type":"KubernetesService","operator":"EQUALS","resource_type":"Condition","value":"web"},` +
		`{"conjunction_operator":"OR","resource_type":"ConjunctionOperator"},` +
		`{"expressions":[{"id":"c","key":"Tag","member_type":"AntreaEgress","operator":"EQUALS","resource_type":"Condition","value":"a|b"}],"resource_type":"NestedExpression"},` +
		`{"conjunction_operator":"OR","resource_type":"ConjunctionOperator"},` +
		`{"ip_addresses":["10.0.0.1"],"resource_type":"IPAddressExpression"},` +
		`{"conjunction_operator":"OR","resource_type":"ConjunctionOperator"},` +
		`{"paths":["/infra/domains/default/groups/g"],"resource_type":"PathExpression"},` +
		`{"conjunction_operator":"OR","resource_type":"ConjunctionOperator"},` +
		`{"mac_addresses":["aa"],"resource_type":"MACAddressExpression"}]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back ExpressionList
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != len(l) {
		t.Fatalf("decoded %d expressions", len(back))
	}
	for i := range l {
		if back[i].ExpressionType() != l[i].ExpressionType() {
			t.Errorf("[%d] type %s, want %s", i, back[i].ExpressionType(), l[i].ExpressionType())
		}
	}
	if !reflect.DeepEqual(back[:8], l[:8]) {
		t.Errorf("decoded expressions differ")
	}
}

func TestMarshalServiceEntryList(t *testing.T) {
	typ, code, proto := 3, 1, 6
	l := ServiceEntryList{
		&L4PortSetServiceEntry{L4Protocol: "TCP", DestinationPorts: PortList{"80"}},
		&ICMPTypeServiceEntry{Protocol: "ICMPv4", ICMPType: &typ, ICMPCode: &code},
		&IPProtocolServiceEntry{ProtocolNumber: &proto},
		&IGMPTypeServiceEntry{},
		&NestedServiceServiceEntry{NestedServicePath: "/infra/services/HTTP"},
		&UnsupportedServiceEntry{Type: "EtherTypeServiceEntry", Raw: json.RawMessage(`{"resource_type":"EtherTypeServiceEntry","ether_type":2048}`)},
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"_revision":0,"destination_ports":["80"],"l4_protocol":"TCP","resource_type":"L4PortSetServiceEntry"},` +
		`{"_revision":0,"icmp_code":1,"icmp_type":3,"protocol":"ICMPv4","resource_type":"ICMPTypeServiceEntry"},` +
		`{"_revision":0,"protocol_number":6,"resource_type":"IPProtocolServiceEntry"},` +
		`{"_revision":0,"resource_type":"IGMPTypeServiceEntry"},` +
		`{"_revision":0,"nested_service_path":"/infra/services/HTTP","resource_type":"NestedServiceServiceEntry"},` +
		`{"resource_type":"EtherTypeServiceEntry","ether_type":2048}]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back ServiceEntryList
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for i := range l {
		if back[i].EntryType() != l[i].EntryType() || back[i].EntryMeta().ResourceType != l[i].EntryType() {
			t.Errorf("[%d] type %s (meta %q), want %s", i, back[i].EntryType(), back[i].EntryMeta().ResourceType, l[i].EntryType())
		}
	}
	if c := back[1].(*ICMPTypeServiceEntry); *c.ICMPType != 3 || *c.ICMPCode != 1 {
		t.Errorf("ICMP entry %+v", c)
	}
}

func TestMarshalChildList(t *testing.T) {
	g := &Group{}
	g.ID = "g"
	r := &Rule{}
	r.ID = "r"
	l := ChildList{
		Wrap(g),
		{Type: "ChildGroup", MarkedForDelete: true, Object: &Group{Meta: Meta{ID: "old"}}},
		{Type: "ChildResourceReference", RefID: "p", TargetType: "SecurityPolicy", Children: ChildList{Wrap(r)}},
		{Type: "ChildServiceEntry", Entry: &IGMPTypeServiceEntry{Meta: Meta{ID: "e"}}},
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"Group":{"_revision":0,"id":"g","resource_type":"Group"},"resource_type":"ChildGroup"},` +
		`{"Group":{"_revision":0,"id":"old","resource_type":"Group"},"marked_for_delete":true,"resource_type":"ChildGroup"},` +
		// A rule's flags are always written, as NSX returns them.
		`{"children":[{"Rule":{"_revision":0,"destinations_excluded":false,"disabled":false,"id":"r","logged":false,"resource_type":"Rule","sequence_number":0,"sources_excluded":false},"resource_type":"ChildRule"}],"id":"p","resource_type":"ChildResourceReference","target_type":"SecurityPolicy"},` +
		`{"ServiceEntry":{"_revision":0,"id":"e","resource_type":"IGMPTypeServiceEntry"},"resource_type":"ChildServiceEntry"}]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back ChildList
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, c := range back {
		types = append(types, c.Type)
	}
	if !equalStrings(types, []string{"ChildGroup", "ChildGroup", "ChildResourceReference", "ChildServiceEntry"}) || !back[1].MarkedForDelete ||
		back[2].RefID != "p" || back[2].Children[0].Object.(*Rule).ID != "r" || back[3].Entry.EntryMeta().ID != "e" {
		t.Errorf("decoded %+v", back)
	}
}

func TestWrap(t *testing.T) {
	objs := []Object{&Domain{}, &Group{}, &Service{}, &SecurityPolicy{}, &GatewayPolicy{}, &Rule{}, &Tier0{}, &Tier1{}}
	var got []string
	for _, o := range objs {
		c := Wrap(o)
		if c.Object != o || c.MarkedForDelete {
			t.Errorf("Wrap(%T) = %+v", o, c)
		}
		got = append(got, c.Type)
		if _, ok := childKinds[c.Type]; !ok {
			t.Errorf("Wrap gives %q, which decoding does not know", c.Type)
		}
	}
	want := []string{"ChildDomain", "ChildGroup", "ChildService", "ChildSecurityPolicy", "ChildGatewayPolicy", "ChildRule", "ChildTier0", "ChildTier1"}
	if !equalStrings(got, want) {
		t.Errorf("Wrap types %q", got)
	}
	sort.Strings(want)
	var known []string
	for k := range childKinds {
		known = append(known, k)
	}
	sort.Strings(known)
	if !equalStrings(known, want) {
		t.Errorf("childKinds %q", known)
	}
}

func TestInfraMarshal(t *testing.T) {
	in := &Infra{}
	in.Children = ChildList{Wrap(&Tier0{Meta: Meta{ID: "t0"}})}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resource_type":"Infra","_revision":0,"children":[{"Tier0":{"_revision":0,"id":"t0","resource_type":"Tier0"},"resource_type":"ChildTier0"}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if in.ResourceType != "" {
		t.Errorf("MarshalJSON changed the receiver")
	}
	if !strings.Contains(string(b), `"resource_type":"Infra"`) {
		t.Errorf("no resource_type")
	}
	docs, err := ParseDocument("x.json", b)
	if err != nil || len(docs) != 1 || docs[0].Children[0].Object.GetMeta().ID != "t0" {
		t.Errorf("re-decoding: %v", err)
	}
}
