package model

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const (
	svcPath  = "/infra/services/s"
	spPath   = "/infra/domains/default/security-policies/p"
	gpPath   = "/infra/domains/default/gateway-policies/p"
	ruleApp  = "/infra/domains/default/security-policies/app/rules/r"
	ruleEnv  = "/infra/domains/default/security-policies/env/rules/r"
	ruleL2   = "/infra/domains/default/security-policies/l2/rules/r"
	ruleEdge = "/infra/domains/default/gateway-policies/edge/rules/r"
	ruleNone = "/infra/domains/default/gateway-policies/noscope/rules/r"
)

// svcDoc is a standalone service "s" with the given entries.
func svcDoc(entries ...string) []string {
	return []string{`{"resource_type":"Service","id":"s","service_entries":[` + strings.Join(entries, ",") + `]}`}
}

func l4(proto string, dst ...string) string {
	return fmt.Sprintf(`{"resource_type":"L4PortSetServiceEntry","id":"e","l4_protocol":%q,"destination_ports":%s}`, proto, jsonList(dst...))
}

func entry(typ, fields string) string {
	if fields != "" {
		fields = "," + fields
	}
	return `{"resource_type":"` + typ + `","id":"e"` + fields + `}`
}

// spDoc is a standalone security policy "p" in the default domain.
func spDoc(fields string) []string {
	return []string{`{"resource_type":"SecurityPolicy","id":"p"` + comma(fields) + `}`}
}

// gpDoc is a standalone gateway policy "p" (in domain "default" unless
// fields set a path).
func gpDoc(fields string) []string {
	return []string{`{"resource_type":"GatewayPolicy","id":"p"` + comma(fields) + `}`}
}

// ruleDoc is a standalone rule "r" of a policy of validationBase.
func ruleDoc(policyPath, fields string) []string {
	id := `"id":"r",`
	if strings.HasPrefix(fields, `"id":`) {
		id = ""
	}
	return []string{`{"resource_type":"Rule",` + id + `"parent_path":"` + policyPath + `"` + comma(fields) + `}`}
}

func appRule(fields string) []string {
	return ruleDoc("/infra/domains/default/security-policies/app", fields)
}

func edgeRule(fields string) []string {
	return ruleDoc("/infra/domains/default/gateway-policies/edge", fields)
}

func comma(fields string) string {
	if fields == "" {
		return ""
	}
	return "," + fields
}

func TestValidateServices(t *testing.T) {
	e := func(field, reason string) wantErr { return wantErr{svcPath, field, reason} }
	ranges := func(n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("%d-%d", 1000+10*i, 1005+10*i))
		}
		return out
	}
	runValidateCases(t, []vcase{
		{name: "valid l4", docs: svcDoc(l4("TCP", "80", "443", "8000-8080"))},
		{name: "valid udp any port", docs: svcDoc(l4("UDP"))},
		{name: "valid fifteen port values", docs: svcDoc(l4("TCP", append(ranges(7), "22")...))},
		{name: "valid icmp", docs: svcDoc(entry("ICMPTypeServiceEntry", `"protocol":"ICMPv6","icmp_type":128,"icmp_code":0`))},
		{name: "valid icmp any", docs: svcDoc(entry("ICMPTypeServiceEntry", `"protocol":"ICMPv4"`))},
		{name: "valid ip protocol", docs: svcDoc(entry("IPProtocolServiceEntry", `"protocol_number":0`))},
		{name: "valid igmp", docs: svcDoc(entry("IGMPTypeServiceEntry", ""))},
		{name: "valid nested predefined", docs: svcDoc(entry("NestedServiceServiceEntry", `"nested_service_path":"/infra/services/HTTPS"`))},
		{name: "valid nested user service", docs: svcDoc(entry("NestedServiceServiceEntry", `"nested_service_path":"/infra/services/web"`))},

		{name: "no entries", docs: []string{`{"resource_type":"Service","id":"s"}`}, want: []wantErr{e("service_entries", "a service needs at least one entry")}},
		{name: "l4 protocol SCTP", docs: svcDoc(l4("SCTP", "80")), want: []wantErr{e("service_entries[0].l4_protocol", `must be TCP or UDP, got "SCTP"`)}},
		{name: "l4 protocol lower case", docs: svcDoc(l4("tcp", "80")), want: []wantErr{e("service_entries[0].l4_protocol", `got "tcp"`)}},
		{name: "l4 protocol missing", docs: svcDoc(l4("", "80")), want: []wantErr{e("service_entries[0].l4_protocol", `got ""`)}},
		{name: "port zero", docs: svcDoc(l4("TCP", "0")), want: []wantErr{e("service_entries[0].destination_ports", "port 0 out of range 1-65535")}},
		{name: "port too big", docs: svcDoc(l4("TCP", "80", "65536")), want: []wantErr{e("service_entries[0].destination_ports", "port 65536 out of range")}},
		{name: "port name", docs: svcDoc(l4("TCP", "http")), want: []wantErr{e("service_entries[0].destination_ports", `"http": not a port number`)}},
		{name: "port empty", docs: svcDoc(l4("TCP", "")), want: []wantErr{e("service_entries[0].destination_ports", "not a port number")}},
		{name: "port range reversed", docs: svcDoc(l4("UDP", "90-80")), want: []wantErr{e("service_entries[0].destination_ports", `"90-80": range ends before it starts`)}},
		{name: "sixteen port values", docs: svcDoc(l4("TCP", ranges(8)...)), want: []wantErr{e("service_entries[0].destination_ports", "16 port values (a range counts as 2); NSX allows at most 15")}},
		{name: "sixteen single ports", docs: svcDoc(l4("TCP", strings.Fields("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16")...)), want: []wantErr{e("service_entries[0].destination_ports", "16 port values")}},
		{name: "bad source ports", docs: svcDoc(`{"resource_type":"L4PortSetServiceEntry","id":"e","l4_protocol":"TCP","source_ports":[0]}`), want: []wantErr{e("service_entries[0].source_ports", "port 0 out of range")}},
		{name: "icmp protocol", docs: svcDoc(entry("ICMPTypeServiceEntry", `"protocol":"ICMP"`)), want: []wantErr{e("service_entries[0].protocol", `must be ICMPv4 or ICMPv6, got "ICMP"`)}},
		{name: "icmp type too big", docs: svcDoc(entry("ICMPTypeServiceEntry", `"protocol":"ICMPv4","icmp_type":256`)), want: []wantErr{e("service_entries[0].icmp_type", "must be 0-255, got 256")}},
		{name: "icmp type negative", docs: svcDoc(entry("ICMPTypeServiceEntry", `"protocol":"ICMPv4","icmp_type":-1`)), want: []wantErr{e("service_entries[0].icmp_type", "must be 0-255, got -1")}},
		{name: "icmp code too big", docs: svcDoc(entry("ICMPTypeServiceEntry", `"protocol":"ICMPv4","icmp_type":3,"icmp_code":300`)), want: []wantErr{e("service_entries[0].icmp_code", "must be 0-255, got 300")}},
		{name: "icmp code without type", docs: svcDoc(entry("ICMPTypeServiceEntry", `"protocol":"ICMPv4","icmp_code":0`)), want: []wantErr{e("service_entries[0].icmp_code", "an ICMP code needs an ICMP type")}},
		{name: "protocol number too big", docs: svcDoc(entry("IPProtocolServiceEntry", `"protocol_number":256`)), want: []wantErr{e("service_entries[0].protocol_number", "must be 0-255, got 256")}},
		{name: "protocol number missing", docs: svcDoc(entry("IPProtocolServiceEntry", "")), want: []wantErr{e("service_entries[0].protocol_number", "missing")}},
		{name: "nested service missing", docs: svcDoc(entry("NestedServiceServiceEntry", `"nested_service_path":"/infra/services/nope"`)), want: []wantErr{e("service_entries[0].nested_service_path", `service /infra/services/nope does not exist`)}},
		{name: "nested service cycle", docs: []string{
			`{"resource_type":"Service","id":"b","service_entries":[{"resource_type":"NestedServiceServiceEntry","id":"n","nested_service_path":"/infra/services/a"}]}`,
			`{"resource_type":"Service","id":"a","service_entries":[{"resource_type":"NestedServiceServiceEntry","id":"n","nested_service_path":"/infra/services/b"}]}`,
		}, want: []wantErr{{"/infra/services/a", "service_entries", "services nest each other in a cycle: /infra/services/a -> /infra/services/b -> /infra/services/a"}}},
		{name: "nested service self", docs: svcDoc(entry("NestedServiceServiceEntry", `"nested_service_path":"/infra/services/s"`)), want: []wantErr{e("service_entries", "cycle: /infra/services/s -> /infra/services/s")}},
		{name: "ether type", docs: svcDoc(entry("EtherTypeServiceEntry", `"ether_type":2054`)), want: []wantErr{e("service_entries[0]", "EtherTypeServiceEntry is not supported: kordon enforces layer-3/4 entries")}},
		{name: "alg", docs: svcDoc(l4("TCP", "21"), `{"resource_type":"ALGTypeServiceEntry","id":"ftp","alg":"FTP","destination_ports":["21"]}`), want: []wantErr{e("service_entries[1]", "ALGTypeServiceEntry is not supported")}},
		{name: "redefine predefined", docs: []string{`{"resource_type":"Service","id":"HTTP","service_entries":[` + l4("TCP", "8080") + `]}`}, want: []wantErr{{"/infra/services/HTTP", "", "/infra/services/HTTP is a predefined service and cannot be redefined"}}},
		{name: "redefine predefined by path", docs: []string{`{"resource_type":"Service","path":"/infra/services/DNS-UDP","service_entries":[` + l4("UDP", "53") + `]}`}, want: []wantErr{{"/infra/services/DNS-UDP", "", "predefined service"}}},
		{name: "duplicate entry id", docs: svcDoc(l4("TCP", "80"), l4("UDP", "80")), want: []wantErr{e("service_entries[1].id", `entry id "e" is used twice`)}},
		{name: "several entry problems", docs: svcDoc(l4("XTP", "0"), entry("IPProtocolServiceEntry", `"protocol_number":-3`)), want: []wantErr{
			e("service_entries[0].l4_protocol", "must be TCP or UDP"),
			e("service_entries[0].destination_ports", "out of range"),
			e("service_entries[1].id", "used twice"),
			e("service_entries[1].protocol_number", "must be 0-255, got -3")}},
	})
}

func TestValidatePolicies(t *testing.T) {
	sp := func(field, reason string) wantErr { return wantErr{spPath, field, reason} }
	gp := func(field, reason string) wantErr { return wantErr{gpPath, field, reason} }
	otherGP := "/infra/domains/other/gateway-policies/p"
	inOther := `"path":"` + otherGP + `"`
	var cases []vcase
	for _, cat := range append([]string{""}, DFWCategories...) {
		cases = append(cases, vcase{name: "dfw category " + cat, docs: spDoc(`"category":"` + cat + `"`)})
	}
	for _, cat := range []string{"", CategoryEmergency, CategorySharedPreRules, CategoryLocalGatewayRules, CategoryDefault} {
		cases = append(cases, vcase{name: "gfw category " + cat, docs: gpDoc(`"category":"` + cat + `"`)})
	}
	cases = append(cases, []vcase{
		{name: "gfw other domain SharedPreRules", docs: gpDoc(inOther + `,"category":"SharedPreRules"`)},
		{name: "gfw other domain LocalGatewayRules", docs: gpDoc(inOther + `,"category":"LocalGatewayRules"`)},
		{name: "dfw scope groups", docs: spDoc(`"scope":["` + vmsPath + `","` + k8sPath + `"]`)},
		{name: "dfw scope any", docs: spDoc(`"scope":["any"]`)},
		{name: "gfw scope gateways", docs: gpDoc(`"scope":["/infra/tier-0s/t0","/infra/tier-1s/t1"]`)},
		{name: "sequence number max", docs: spDoc(`"sequence_number":999999`)},
		{name: "allowlist with group scope", docs: spDoc(`"connectivity_preference":"ALLOWLIST","scope":["` + vmsPath + `"]`)},
		{name: "none without scope", docs: spDoc(`"connectivity_preference":"NONE"`)},
		{name: "legacy strategy with scope", docs: spDoc(`"connectivity_strategy":"BLACKLIST_ENABLE_LOGGING","scope":["` + vmsPath + `"]`)},
		{name: "legacy strategy agreeing", docs: spDoc(`"connectivity_preference":"ALLOWLIST","connectivity_strategy":"WHITELIST","scope":["` + vmsPath + `"]`)},
		{name: "stateless tcp_strict false", docs: spDoc(`"stateful":false,"tcp_strict":false`)},
		{name: "stateless Ethernet", docs: spDoc(`"category":"Ethernet","stateful":false`)},

		{name: "dfw category from gateway", docs: spDoc(`"category":"LocalGatewayRules"`), want: []wantErr{sp("category", `"LocalGatewayRules" is not a distributed firewall category (Ethernet, Emergency, Infrastructure, Environment, Application)`)}},
		{name: "dfw category case", docs: spDoc(`"category":"application"`), want: []wantErr{sp("category", `"application" is not a distributed firewall category`)}},
		{name: "gfw category from dfw", docs: gpDoc(`"category":"Application"`), want: []wantErr{gp("category", `"Application" is not a gateway firewall category (Emergency, SystemRules, SharedPreRules, LocalGatewayRules, AutoServiceRules, Default)`)}},
		{name: "gfw SystemRules", docs: gpDoc(`"category":"SystemRules"`), want: []wantErr{gp("category", "SystemRules rules are maintained by the system; use Emergency, SharedPreRules, LocalGatewayRules or Default")}},
		{name: "gfw AutoServiceRules", docs: gpDoc(`"category":"AutoServiceRules"`), want: []wantErr{gp("category", "AutoServiceRules rules are maintained by the system")}},
		{name: "gfw other domain Emergency", docs: gpDoc(inOther + `,"category":"Emergency"`), want: []wantErr{{otherGP, "category", "gateway policies outside the default domain may use only SharedPreRules or LocalGatewayRules"}}},
		{name: "gfw other domain Default", docs: gpDoc(inOther + `,"category":"Default"`), want: []wantErr{{otherGP, "category", "outside the default domain"}}},
		{name: "dfw sequence negative", docs: spDoc(`"sequence_number":-1`), want: []wantErr{sp("sequence_number", "must be 0-999999, got -1")}},
		{name: "dfw sequence too big", docs: spDoc(`"sequence_number":1000000`), want: []wantErr{sp("sequence_number", "must be 0-999999, got 1000000")}},
		{name: "gfw sequence too big", docs: gpDoc(`"sequence_number":5000000`), want: []wantErr{gp("sequence_number", "got 5000000")}},
		{name: "scheduler", docs: spDoc(`"scheduler_path":"/infra/firewall-schedulers/weekends"`), want: []wantErr{sp("scheduler_path", "time-window schedules are not supported")}},
		{name: "gfw scheduler", docs: gpDoc(`"scheduler_path":"/infra/firewall-schedulers/w"`), want: []wantErr{gp("scheduler_path", "not supported")}},
		{name: "tcp_strict stateless", docs: spDoc(`"stateful":false,"tcp_strict":true`), want: []wantErr{sp("tcp_strict", "applies only to stateful policies")}},
		{name: "stateful Ethernet", docs: spDoc(`"category":"Ethernet","stateful":true`), want: []wantErr{sp("stateful", "Ethernet (layer-2) policies are stateless only")}},
		{name: "unknown preference", docs: spDoc(`"connectivity_preference":"ALLOW_ALL","scope":["` + vmsPath + `"]`), want: []wantErr{sp("connectivity_preference", `unknown value "ALLOW_ALL" (ALLOWLIST, DENYLIST, ALLOWLIST_ENABLE_LOGGING, DENYLIST_ENABLE_LOGGING, NONE)`)}},
		{name: "allowlist without scope", docs: spDoc(`"connectivity_preference":"ALLOWLIST"`), want: []wantErr{sp("connectivity_preference", "ALLOWLIST needs the policy's scope (Applied To) to name groups")}},
		{name: "denylist logging with scope ANY", docs: spDoc(`"connectivity_preference":"DENYLIST_ENABLE_LOGGING","scope":["ANY"]`), want: []wantErr{sp("connectivity_preference", "DENYLIST_ENABLE_LOGGING needs the policy's scope")}},
		{name: "allowlist on Ethernet", docs: spDoc(`"category":"Ethernet","connectivity_preference":"DENYLIST","scope":["` + vmsPath + `"]`), want: []wantErr{sp("connectivity_preference", "applies to layer-3 policies only")}},
		{name: "legacy whitelist without scope", docs: spDoc(`"connectivity_strategy":"WHITELIST"`), want: []wantErr{sp("connectivity_preference", "ALLOWLIST needs the policy's scope")}},
		{name: "unknown strategy", docs: spDoc(`"connectivity_strategy":"GREYLIST","scope":["` + vmsPath + `"]`), want: []wantErr{sp("connectivity_strategy", `unknown value "GREYLIST"`)}},
		{name: "contradicting strategy", docs: spDoc(`"connectivity_preference":"ALLOWLIST","connectivity_strategy":"BLACKLIST","scope":["` + vmsPath + `"]`), want: []wantErr{sp("connectivity_strategy", "contradicts connectivity_preference ALLOWLIST")}},
		{name: "dfw scope gateway", docs: spDoc(`"scope":["/infra/tier-1s/t1"]`), want: []wantErr{sp("scope[0]", "a distributed firewall scope (Applied To) names groups, not a Tier1")}},
		{name: "dfw scope missing group", docs: spDoc(`"scope":["` + vmsPath + `","/infra/domains/default/groups/nope"]`), want: []wantErr{sp("scope[1]", "group /infra/domains/default/groups/nope does not exist")}},
		{name: "dfw scope ANY among groups", docs: spDoc(`"scope":["ANY","` + vmsPath + `"]`), want: []wantErr{sp("scope[0]", "ANY must be the only entry")}},
		{name: "dfw scope not a path", docs: spDoc(`"scope":["10.0.0.1"]`), want: []wantErr{sp("scope[0]", "must start with /infra/")}},
		{name: "dfw scope other space", docs: spDoc(`"scope":["` + projGrp + `"]`), project: g(vm), want: []wantErr{sp("scope[0]", "group "+projGrp+" is in another space; policies use groups of their own space")}},
		{name: "dfw scope too long", docs: spDoc(`"scope":` + jsonList(repeat(vmsPath, 129)...)), want: []wantErr{sp("scope", "129 entries; at most 128")}},
		{name: "gfw scope group", docs: gpDoc(`"scope":["` + vmsPath + `"]`), want: []wantErr{gp("scope[0]", "a gateway firewall scope names tier-0 or tier-1 gateways, not a Group")}},
		{name: "gfw scope missing gateway", docs: gpDoc(`"scope":["/infra/tier-1s/nope"]`), want: []wantErr{gp("scope[0]", "gateway /infra/tier-1s/nope does not exist")}},
		{name: "gfw scope other space gateway", docs: gpDoc(`"scope":["/orgs/default/projects/dev/infra/tier-1s/t1"]`), want: []wantErr{gp("scope[0]", "gateway /orgs/default/projects/dev/infra/tier-1s/t1 does not exist")}},
	}...)
	runValidateCases(t, cases)
}

func TestValidateRules(t *testing.T) {
	r := func(field, reason string) wantErr { return wantErr{ruleApp, field, reason} }
	ips := make([]string, 129)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
	}
	entries := make([]string, 129)
	for i := range entries {
		entries[i] = fmt.Sprintf(`{"resource_type":"L4PortSetServiceEntry","id":"e%d","l4_protocol":"TCP","destination_ports":["%d"]}`, i, i+1)
	}
	runValidateCases(t, []vcase{
		{name: "minimal rule", docs: appRule("")},
		{name: "every action", docs: []string{
			appRule(`"action":"ALLOW"`)[0],
			ruleDoc("/infra/domains/default/security-policies/app", `"id":"r2","action":"DROP"`)[0],
			ruleDoc("/infra/domains/default/gateway-policies/edge", `"id":"r3","action":"REJECT"`)[0],
		}},
		{name: "jump in Environment", docs: ruleDoc("/infra/domains/default/security-policies/env", `"action":"JUMP_TO_APPLICATION"`)},
		{name: "every direction and protocol", docs: appRule(`"direction":"OUT","ip_protocol":"IPV6"`)},
		{name: "literal addresses", docs: appRule(`"source_groups":["10.0.0.1","10.0.0.0/8","10.0.0.1-10.0.0.9","fd00::/64","2001:db8::1"],"destination_groups":["` + vmsPath + `","192.0.2.7"]`)},
		{name: "any lower case", docs: appRule(`"source_groups":["any"],"services":["Any"],"scope":["ANY"],"profiles":["ANY"]`)},
		{name: "predefined and user services", docs: appRule(`"services":["/infra/services/HTTP","/infra/services/web"],"service_entries":[` + l4("UDP", "53") + `]`)},
		{name: "128 sources", docs: appRule(`"source_groups":` + jsonList(ips[:128]...))},
		{name: "dfw rule scope group", docs: appRule(`"scope":["` + k8sPath + `"]`)},
		{name: "gfw rule in scoped policy", docs: edgeRule(`"source_groups":["` + k8sPath + `"]`)},
		{name: "gfw rule with own scope", docs: ruleDoc("/infra/domains/default/gateway-policies/noscope", `"scope":["/infra/tier-0s/t0"]`)},
		{name: "notes 2048", docs: appRule(`"notes":"` + strings.Repeat("n", 2048) + `"`)},
		{name: "Ethernet rule without ip_protocol", docs: ruleDoc("/infra/domains/default/security-policies/l2", `"action":"DROP"`)},

		{name: "unknown action", docs: appRule(`"action":"PERMIT"`), want: []wantErr{r("action", `unknown action "PERMIT" (ALLOW, DROP, REJECT, JUMP_TO_APPLICATION)`)}},
		{name: "action lower case", docs: appRule(`"action":"allow"`), want: []wantErr{r("action", `unknown action "allow"`)}},
		{name: "jump in Application", docs: appRule(`"action":"JUMP_TO_APPLICATION"`), want: []wantErr{r("action", "JUMP_TO_APPLICATION is allowed only in distributed firewall policies of category Environment")}},
		{name: "jump in gateway policy", docs: edgeRule(`"action":"JUMP_TO_APPLICATION"`), want: []wantErr{{ruleEdge, "action", "JUMP_TO_APPLICATION is allowed only in distributed firewall policies"}}},
		{name: "unknown direction", docs: appRule(`"direction":"BOTH"`), want: []wantErr{r("direction", `unknown direction "BOTH" (IN, OUT, IN_OUT)`)}},
		{name: "unknown ip_protocol", docs: appRule(`"ip_protocol":"IPV5"`), want: []wantErr{r("ip_protocol", `unknown value "IPV5" (IPV4, IPV6, IPV4_IPV6)`)}},
		{name: "Ethernet rule with ip_protocol", docs: ruleDoc("/infra/domains/default/security-policies/l2", `"ip_protocol":"IPV4"`), want: []wantErr{{ruleL2, "ip_protocol", "must be empty for Ethernet (layer-2) rules"}}},
		{name: "negative sequence", docs: appRule(`"sequence_number":-5`), want: []wantErr{r("sequence_number", "must not be negative")}},
		{name: "ANY among sources", docs: appRule(`"source_groups":["ANY","` + vmsPath + `"]`), want: []wantErr{r("source_groups[0]", "ANY must be the only entry")}},
		{name: "ANY among destinations", docs: appRule(`"destination_groups":["10.0.0.1","any"]`), want: []wantErr{r("destination_groups[1]", "ANY must be the only entry")}},
		{name: "ANY among services", docs: appRule(`"services":["/infra/services/HTTP","ANY"]`), want: []wantErr{r("services[1]", "ANY must be the only entry")}},
		{name: "ANY among scope", docs: appRule(`"scope":["` + vmsPath + `","ANY"]`), want: []wantErr{r("scope[1]", "ANY must be the only entry")}},
		{name: "missing source group", docs: appRule(`"source_groups":["/infra/domains/default/groups/nope"]`), want: []wantErr{r("source_groups[0]", "group /infra/domains/default/groups/nope does not exist")}},
		{name: "missing destination group", docs: appRule(`"destination_groups":["` + vmsPath + `","/infra/domains/other/groups/vms"]`), want: []wantErr{r("destination_groups[1]", "group /infra/domains/other/groups/vms does not exist")}},
		{name: "group of another space", docs: appRule(`"source_groups":["` + projGrp + `"]`), project: g(vm), want: []wantErr{r("source_groups[0]", "is in another space; policies use groups of their own space")}},
		{name: "project rule with default-space group", project: []string{
			`{"resource_type":"SecurityPolicy","id":"p","rules":[{"id":"r","destination_groups":["` + vmsPath + `"]}]}`,
		}, want: []wantErr{{projDev + spPath + "/rules/r", "destination_groups[0]", "group " + vmsPath + " is in another space"}}},
		{name: "service as source", docs: appRule(`"source_groups":["/infra/services/web"]`), want: []wantErr{r("source_groups[0]", "/infra/services/web is a Service; sources and destinations are groups or addresses")}},
		{name: "malformed source path", docs: appRule(`"source_groups":["/infra/groups/x"]`), want: []wantErr{r("source_groups[0]", "not a path to a domain, group, service")}},
		{name: "bad address", docs: appRule(`"source_groups":["10.0.0.300"]`), want: []wantErr{r("source_groups[0]", `neither a group path nor an address: "10.0.0.300"`)}},
		{name: "bad range", docs: appRule(`"destination_groups":["10.0.0.9-10.0.0.1"]`), want: []wantErr{r("destination_groups[0]", "range ends before it starts")}},
		{name: "host name", docs: appRule(`"destination_groups":["db.example.com"]`), want: []wantErr{r("destination_groups[0]", "neither a group path nor an address")}},
		{name: "129 sources", docs: appRule(`"source_groups":` + jsonList(ips...)), want: []wantErr{r("source_groups", "129 entries; at most 128")}},
		{name: "129 destinations", docs: appRule(`"destination_groups":` + jsonList(ips...)), want: []wantErr{r("destination_groups", "129 entries; at most 128")}},
		{name: "129 services", docs: appRule(`"services":` + jsonList(repeat("/infra/services/HTTP", 129)...)), want: []wantErr{r("services", "129 entries; at most 128")}},
		{name: "129 service entries", docs: appRule(`"service_entries":[` + strings.Join(entries, ",") + `]`), want: []wantErr{r("service_entries", "129 entries; at most 128")}},
		{name: "129 scope entries", docs: appRule(`"scope":` + jsonList(repeat(vmsPath, 129)...)), want: []wantErr{r("scope", "129 entries; at most 128")}},
		{name: "missing service", docs: appRule(`"services":["/infra/services/HTTP","/infra/services/nope"]`), want: []wantErr{r("services[1]", "service /infra/services/nope does not exist")}},
		{name: "service path of a group", docs: appRule(`"services":["` + vmsPath + `"]`), want: []wantErr{r("services[0]", "service "+vmsPath+" does not exist")}},
		{name: "bad rule service entry", docs: appRule(`"service_entries":[` + l4("ICMP", "1") + `]`), want: []wantErr{r("service_entries[0].l4_protocol", `must be TCP or UDP, got "ICMP"`)}},
		{name: "unsupported rule service entry", docs: appRule(`"service_entries":[{"resource_type":"EtherTypeServiceEntry","ether_type":2048}]`), want: []wantErr{r("service_entries[0]", "EtherTypeServiceEntry is not supported")}},
		{name: "rule nested entry missing", docs: appRule(`"service_entries":[` + entry("NestedServiceServiceEntry", `"nested_service_path":"/infra/services/nope"`) + `]`), want: []wantErr{r("service_entries[0].nested_service_path", "does not exist")}},
		{name: "profiles", docs: appRule(`"profiles":["/infra/context-profiles/HTTP"]`), want: []wantErr{r("profiles", "context profiles (layer-7) are not supported")}},
		{name: "dfw rule scope gateway", docs: appRule(`"scope":["/infra/tier-1s/t1"]`), want: []wantErr{r("scope[0]", "a distributed firewall scope (Applied To) names groups, not a Tier1")}},
		{name: "dfw rule scope missing group", docs: appRule(`"scope":["/infra/domains/default/groups/nope"]`), want: []wantErr{r("scope[0]", "does not exist")}},
		{name: "gfw rule scope group", docs: edgeRule(`"scope":["` + vmsPath + `"]`), want: []wantErr{{ruleEdge, "scope[0]", "a gateway firewall scope names tier-0 or tier-1 gateways, not a Group"}}},
		{name: "gfw rule scope missing gateway", docs: edgeRule(`"scope":["/infra/tier-0s/nope"]`), want: []wantErr{{ruleEdge, "scope[0]", "gateway /infra/tier-0s/nope does not exist"}}},
		{name: "gfw rule without any scope", docs: ruleDoc("/infra/domains/default/gateway-policies/noscope", ""), want: []wantErr{{ruleNone, "scope", "a gateway firewall rule applies to the tier-0 or tier-1 gateways in its scope or its policy's scope; both are empty"}}},
		{name: "gfw rule with ANY scope", docs: ruleDoc("/infra/domains/default/gateway-policies/noscope", `"scope":["ANY"]`), want: []wantErr{{ruleNone, "scope", "both are empty"}}},
		{name: "notes too long", docs: appRule(`"notes":"` + strings.Repeat("n", 2049) + `"`), want: []wantErr{r("notes", "2049 bytes; at most 2048")}},
	})
}

func TestValidateTiers(t *testing.T) {
	runValidateCases(t, []vcase{
		{name: "tier-1 without tier-0", docs: []string{`{"resource_type":"Tier1","id":"x"}`}},
		{name: "tier-1 with missing tier-0", docs: []string{`{"resource_type":"Tier1","id":"x","tier0_path":"/infra/tier-0s/nope"}`},
			want: []wantErr{{"/infra/tier-1s/x", "tier0_path", "/infra/tier-0s/nope does not exist"}}},
		{name: "tier-0 in a project", project: []string{`{"resource_type":"Tier0","id":"t"}`},
			want: []wantErr{{projDev + "/infra/tier-0s/t", "", "tier-0 gateways belong to the provider (default space), not to a project"}}},
		{name: "tier-1 in a project", project: []string{`{"resource_type":"Tier1","id":"t","tier0_path":"/infra/tier-0s/t0"}`}},
	})
}

// TestValidateRuleWithoutPolicy covers a Config assembled by hand, where a
// rule's policy is missing.
func TestValidateRuleWithoutPolicy(t *testing.T) {
	c := configOf(t, validationBase).Clone()
	r := &Rule{}
	r.ID, r.Path, r.ParentPath = "r", "/infra/domains/default/security-policies/gone/rules/r", "/infra/domains/default/security-policies/gone"
	c.Rules[r.Path] = r
	checkErrors(t, c.Validate(), []wantErr{{r.Path, "", "its policy /infra/domains/default/security-policies/gone does not exist"}}, false)
}

// TestValidateExample checks the shipped example is valid as a whole.
func TestValidateExample(t *testing.T) {
	docs, err := ParseDocument("policy.yaml", readExample(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("%d documents", len(docs))
	}
	c, changes, err := NewConfig().Apply("", docs[0])
	if err != nil {
		t.Fatal(err)
	}
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("example does not validate:\n%v", errs)
	}
	counts := map[Kind]int{}
	for _, ch := range changes {
		if ch.Op != OpUpsert {
			t.Errorf("unexpected change %v", ch)
		}
		counts[ch.Kind]++
	}
	// The default domain exists already and is written as it is: no change.
	want := map[Kind]int{KindTier0: 1, KindTier1: 1, KindService: 2, KindGroup: 16,
		KindGatewayPolicy: 2, KindSecurityPolicy: 3, KindRule: 15}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("changes by kind %v, want %v", counts, want)
	}
	if n := len(c.Groups); n != 16 {
		t.Errorf("%d groups", n)
	}
	if n := len(c.Rules); n != 15 {
		t.Errorf("%d rules", n)
	}
}

// TestValidateAllAtOnce checks that several problems in one document are
// all reported, sorted by path then field.
func TestValidateAllAtOnce(t *testing.T) {
	const doc = `
resource_type: Infra
children:
- resource_type: ChildService
  Service: {id: z-svc, service_entries: [{resource_type: L4PortSetServiceEntry, id: e, l4_protocol: SCTP}]}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildGroup
      Group:
        id: b-group
        expression: [{resource_type: Condition, member_type: KubernetesCluster, key: Name, operator: EQUALS, value: prod}]
    - resource_type: ChildGroup
      Group:
        id: a-group
        expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.256]}]
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: p
        category: Application
        rules:
        - {id: r, action: JUMP_TO_APPLICATION, source_groups: [/infra/domains/default/groups/missing]}
`
	c := configOf(t, doc)
	errs := c.Validate()
	want := []Error{
		{Path: "/infra/domains/default/groups/a-group", Field: "expression[0].ip_addresses[0]"},
		{Path: "/infra/domains/default/groups/b-group", Field: "expression[0]"},
		{Path: "/infra/domains/default/security-policies/p/rules/r", Field: "action"},
		{Path: "/infra/domains/default/security-policies/p/rules/r", Field: "source_groups[0]"},
		{Path: "/infra/services/z-svc", Field: "service_entries[0].l4_protocol"},
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if errs[i].Path != w.Path || errs[i].Field != w.Field || errs[i].Reason == "" {
			t.Errorf("error %d = %q | %q | %q, want %q | %q", i, errs[i].Path, errs[i].Field, errs[i].Reason, w.Path, w.Field)
		}
	}
	if s := errs.Error(); strings.Count(s, "\n") != 4 || !strings.HasPrefix(s, "/infra/domains/default/groups/a-group: expression[0].ip_addresses[0]: ") {
		t.Errorf("Errors.Error() = %q", s)
	}
}
