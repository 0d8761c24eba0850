package reach

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/policy"
)

// f is a finding by rule path; the test fills in the index.
func sh(rule string, by ...string) Finding {
	return Finding{Rule: rule, Kind: Shadowed, By: append([]string{}, by...)}
}

func red(rule string, by ...string) Finding {
	return Finding{Rule: rule, Kind: Redundant, By: append([]string{}, by...)}
}

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name     string
		appStart int
		rules    []spec
		want     []Finding
	}{
		{
			name: "covered by one earlier rule",
			rules: []spec{
				r("a", drop, src(ep("10.0.0.0/24"))),
				r("b", reject, src(ep("10.0.0.0/25")), dst(ep("192.168.0.1")), svc(tcp("80"))),
			},
			want: []Finding{sh("b", "a")},
		},
		{
			name: "covered by two earlier rules together, by neither alone",
			rules: []spec{
				r("a", drop, src(ep("10.0.0.0/25"))),
				r("b", drop, src(ep("10.0.0.128/25"))),
				r("c", reject, src(ep("10.0.0.0/24"))),
			},
			want: []Finding{sh("c", "a", "b")},
		},
		{
			name: "covered by a service and an address rule together",
			rules: []spec{
				r("a", drop, svc(tcp("1-1024"))),
				r("b", drop, src(ep("10.0.0.0/8"))),
				r("c", reject, src(ep("10.1.0.0/16")), svc(tcp("22", "80-90"), udp("53"))),
			},
			want: []Finding{sh("c", "a", "b")},
		},
		{
			name: "partially covered",
			rules: []spec{
				r("a", drop, src(ep("10.0.0.0/25"))),
				r("b", reject, src(ep("10.0.0.0/24"))),
			},
		},
		{
			name: "covered except one address",
			rules: []spec{
				r("a", drop, src(ep("10.0.0.0-10.0.0.254"))),
				r("b", reject, src(ep("10.0.0.0/24"))),
			},
		},
		{
			name: "excluded sources cover the rest",
			rules: []spec{
				r("a", drop, src(not(ep("10.0.0.0/24")))),
				r("b", drop, src(ep("10.0.0.0/24")), dst(ep("192.168.0.0/16"))),
				r("c", reject, dst(ep("192.168.1.1"))),
				r("d", reject, dst(ep("172.16.0.1"))),
			},
			want: []Finding{sh("c", "a", "b")},
		},
		{
			name: "excluded destinations",
			rules: []spec{
				r("a", drop, dst(not(ep("192.168.0.0/16")))),
				r("b", reject, dst(ep("8.8.8.8", "fd00::1"))),
				r("c", reject, dst(ep("192.168.0.9"))),
			},
			want: []Finding{sh("b", "a")},
		},
		{
			name: "excluded ANY matches nothing",
			rules: []spec{
				r("a", drop, src(policy.Endpoint{Any: true, Negate: true})),
			},
			want: []Finding{sh("a")},
		},
		{
			name: "port range inside a larger one",
			rules: []spec{
				r("a", drop, svc(tcp("1-1024"))),
				r("b", reject, svc(tcp("80-90"))),
				r("c", reject, svc(udp("80-90"))),
				r("d", reject, svc(tcp("1000-1100"))),
			},
			want: []Finding{sh("b", "a")},
		},
		{
			name: "service entries cover together",
			rules: []spec{
				r("a", drop, svc(tcp("1-100"), tcp("101-200"))),
				r("b", reject, svc(tcp("50-150"))),
				r("c", drop, svc(policy.ServiceMatch{Proto: address.ICMP})),
				r("d", reject, svc(icmpType(8))),
				r("e", reject, svc(policy.ServiceMatch{AnyProto: true, DstPorts: ports("60")})),
			},
			want: []Finding{sh("b", "a"), sh("d", "c")},
		},
		{
			name: "any protocol with any port covers protocols without ports",
			rules: []spec{
				r("a", drop, svc(policy.ServiceMatch{AnyProto: true}, tcp("1-65535"))),
				r("b", reject, svc(policy.ServiceMatch{Proto: 47})),
			},
			want: []Finding{sh("b", "a")},
		},
		{
			// Every realizable TCP, UDP and SCTP flow has ports 1-65535,
			// every ICMP one type and code 0-255, every other protocol
			// ports 0: together these rules leave nothing.
			name: "the universe is the flows packets carry",
			rules: []spec{
				r("tcp", drop, svc(
					policy.ServiceMatch{Proto: address.TCP, SrcPorts: ports("1-65535"), DstPorts: ports("1-65535")},
					policy.ServiceMatch{Proto: address.UDP, SrcPorts: ports("1-65535"), DstPorts: ports("1-65535")},
					policy.ServiceMatch{Proto: address.SCTP, SrcPorts: ports("1-65535"), DstPorts: ports("1-65535")})),
				r("icmp", drop, svc(
					policy.ServiceMatch{Proto: address.ICMP, SrcPorts: []address.PortRange{{From: 0, To: 255}}, DstPorts: []address.PortRange{{From: 0, To: 255}}},
					policy.ServiceMatch{Proto: address.ICMPv6, SrcPorts: []address.PortRange{{From: 0, To: 255}}, DstPorts: []address.PortRange{{From: 0, To: 255}}})),
				r("bare", drop, svc(policy.ServiceMatch{AnyProto: true, SrcPorts: []address.PortRange{{From: 0, To: 0}}, DstPorts: []address.PortRange{{From: 0, To: 0}}})),
				r("any", reject),
			},
			want: []Finding{sh("any", "tcp", "icmp", "bare")},
		},
		{
			name: "members with a port (NodePort)",
			rules: []spec{
				r("np", drop, dst(withPort(withPort(ep(), "10.0.0.1", address.TCP, 30080), "10.0.0.2", address.TCP, 30080))),
				r("same", reject, dst(ep("10.0.0.1")), svc(tcp("30080"))),
				r("wider", reject, dst(ep("10.0.0.1")), svc(tcp("30080-30081"))),
				r("udp", reject, dst(ep("10.0.0.2")), svc(udp("30080"))),
				r("both", reject, dst(ep("10.0.0.1-10.0.0.2")), svc(tcp("30080"))),
			},
			want: []Finding{sh("same", "np"), sh("both", "np")},
		},
		{
			name: "member with a port on the source side matches the source port",
			rules: []spec{
				r("m", drop, src(withPort(ep(), "10.0.0.1", address.TCP, 5000))),
				r("by-src-port", reject, src(ep("10.0.0.1")), svc(policy.ServiceMatch{Proto: address.TCP, SrcPorts: ports("5000")})),
				r("by-dst-port", reject, src(ep("10.0.0.1")), svc(tcp("5000"))),
			},
			want: []Finding{sh("by-src-port", "m")},
		},
		{
			name: "excluded addresses and members with a port",
			rules: []spec{
				r("a", drop, dst(not(withPort(ep("10.0.0.0/24"), "10.0.1.1", address.TCP, 30080)))),
				r("other-ports", reject, dst(ep("10.0.1.1")), svc(tcp("1-30079", "30081-65535"))),
				r("member", reject, dst(ep("10.0.1.1")), svc(tcp("30080"))),
				r("excluded", reject, dst(ep("10.0.0.7"))),
			},
			want: []Finding{sh("other-ports", "a")},
		},
		{
			name: "IPv4-only rule does not cover IPv6 flows",
			rules: []spec{
				r4("a", drop),
				r("b", reject),
			},
		},
		{
			name: "IPv6-only rule covered by a rule of both families",
			rules: []spec{
				r("a", drop, dst(ep("fd00::/64", "10.0.0.0/8"))),
				r6("b", reject, dst(ep("fd00::1"))),
				r4("c", reject, dst(ep("10.1.2.3"))),
				r4("d", reject, dst(ep("11.1.2.3"))),
			},
			want: []Finding{sh("b", "a"), sh("c", "a")},
		},
		{
			name: "IPv4-only rule with only IPv6 addresses matches nothing",
			rules: []spec{
				r4("a", drop, dst(ep("fd00::1"))),
			},
			want: []Finding{sh("a")},
		},
		{
			name: "shadowed across families by different rules",
			rules: []spec{
				r4("a", drop),
				r6("b", drop, svc(tcp("1-65535"))),
				r("c", reject, svc(tcp("443"))),
			},
			want: []Finding{sh("c", "a", "b")},
		},
		{
			name: "applied to, inbound",
			rules: []spec{
				r("a", drop, applied(policy.In, "10.0.0.0/24")),
				r("b", reject, dst(ep("10.0.0.5"))),
				r("c", reject, src(ep("10.0.0.5"))),
			},
			want: []Finding{sh("b", "a")},
		},
		{
			name: "applied to, outbound",
			rules: []spec{
				r("a", drop, applied(policy.Out, "10.0.0.0/24")),
				r("b", reject, dst(ep("10.0.0.5"))),
				r("c", reject, src(ep("10.0.0.5"))),
			},
			want: []Finding{sh("c", "a")},
		},
		{
			name: "applied to, both directions",
			rules: []spec{
				r("a", drop, applied(policy.InOut, "10.0.0.0/24")),
				r("b", reject, dst(ep("10.0.0.5"))),
				r("c", reject, src(ep("10.0.0.5"))),
				r("d", reject, src(ep("10.0.1.5"))),
			},
			want: []Finding{sh("b", "a"), sh("c", "a")},
		},
		{
			name:     "jump to application skips the rest of Environment only",
			appStart: 2,
			rules: []spec{
				r("jump", jump, src(ep("10.0.0.0/24"))),
				r("env-drop", drop, src(ep("10.0.0.5"))),
				r("app-ssh", allow, src(ep("10.0.0.5")), svc(tcp("22"))),
				r("app-drop", drop, src(ep("10.0.0.0/24"))),
			},
			want: []Finding{sh("env-drop", "jump")},
		},
		{
			name:     "a jump covered by an earlier jump",
			appStart: 2,
			rules: []spec{
				r("jump", jump),
				r("jump-again", jump, src(ep("10.0.0.1"))),
				r("app", drop),
			},
			want: []Finding{sh("jump-again", "jump")},
		},
		{
			name:     "a jump and a drop together shadow an Environment rule",
			appStart: 3,
			rules: []spec{
				r("jump", jump, svc(tcp("1-1024"))),
				r("env", drop, svc(tcp("1025-65535"))),
				r("env-all-tcp", reject, svc(tcp("1-65535"))),
				r("app", drop, svc(tcp("22"))),
			},
			want: []Finding{sh("env-all-tcp", "jump", "env")},
		},
		{
			name:     "a jump in Application does nothing",
			appStart: 0,
			rules: []spec{
				r("jump", jump),
				r("drop", drop),
			},
		},
		{
			name:     "without the allow, its flows pass a jump in Application and are dropped",
			appStart: 1,
			rules: []spec{
				r("env", reject, src(ep("10.9.0.0/16"))),
				r("a", allow, src(ep("10.0.0.1"))),
				r("jump", jump),
				r("b", drop),
			},
		},
		{
			name:     "a jump with no Application rules lets flows through",
			appStart: 2,
			rules: []spec{
				r("jump", jump, src(ep("10.0.0.0/24"))),
				r("env", drop),
			},
		},
		{
			name: "allow followed by a broader allow",
			rules: []spec{
				r("a", allow, src(ep("10.0.0.1")), svc(tcp("80"))),
				r("b", allow, src(ep("10.0.0.0/24"))),
				r("c", drop),
			},
			want: []Finding{red("a", "b")},
		},
		{
			name: "a drop in between intercepts some of the allow's flows",
			rules: []spec{
				r("a", allow, src(ep("10.0.0.1")), svc(tcp("80-81"))),
				r("m", drop, src(ep("10.0.0.1")), svc(tcp("81"))),
				r("b", allow, src(ep("10.0.0.0/24"))),
				r("c", drop),
			},
			want: []Finding{sh("m", "a")},
		},
		{
			name: "a drop before the default allow is never redundant",
			rules: []spec{
				r("a", drop, src(ep("10.0.0.1"))),
			},
		},
		{
			name: "an allow before the default allow",
			rules: []spec{
				r("a", allow, src(ep("10.0.0.1"))),
			},
			want: []Finding{red("a", Default)},
		},
		{
			name: "redundant to a later rule and the default",
			rules: []spec{
				r("a", allow, src(ep("10.0.0.0/24"))),
				r("b", allow, src(ep("10.0.0.0/25")), svc(tcp("22"))),
			},
			want: []Finding{red("a", "b", Default), sh("b", "a")},
		},
		{
			name: "each redundant alone, logging aside",
			rules: []spec{
				r("a", allow, logged, src(ep("10.0.0.1"))),
				r("b", allow),
			},
			want: []Finding{red("a", "b"), red("b", Default)},
		},
		{
			name: "redundant one at a time, not together",
			rules: []spec{
				r("a", allow, src(ep("10.0.0.1"))),
				r("b", allow, src(ep("10.0.0.0/24"))),
				r("c", allow, src(ep("10.0.0.0", "10.0.0.2-10.0.0.255"))),
				r("d", drop),
			},
			want: []Finding{red("a", "b"), red("b", "c"), sh("c", "b")},
		},
		{
			name: "reject and drop differ",
			rules: []spec{
				r("a", reject, src(ep("10.0.0.1"))),
				r("b", drop, src(ep("10.0.0.0/24"))),
			},
		},
		{
			name:     "redundant through a jump",
			appStart: 2,
			rules: []spec{
				r("a", drop, src(ep("10.0.0.1"))),
				r("jump", jump, src(ep("10.0.0.0/24"))),
				r("b", drop, src(ep("10.0.0.0/16"))),
			},
			want: []Finding{red("a", "b")},
		},
		{
			name:     "not redundant when a jump leads to another verdict",
			appStart: 2,
			rules: []spec{
				r("a", drop, src(ep("10.0.0.1"))),
				r("jump", jump, src(ep("10.0.0.0/24"))),
				r("b", drop, src(ep("10.0.0.0/16")), svc(tcp("1-1000"))),
			},
		},
		{
			name: "catch-alls take part but are not reported",
			rules: []spec{
				r("x", drop, src(ep("10.0.0.1"))),
				r("policy-default", drop, policyDefault),
				r("after", reject, src(ep("10.0.0.2"))),
				r("default-rule", allow, func(r *policy.Rule) { r.Default = true }),
			},
			want: []Finding{red("x", "policy-default"), sh("after", "policy-default")},
		},
		{
			name: "services that match nothing",
			rules: []spec{
				r("a", drop, svc()),
				r("b", drop, svc(policy.ServiceMatch{Proto: address.TCP, DstPorts: []address.PortRange{}})),
			},
			want: []Finding{sh("a"), sh("b")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := ruleset(t, tt.appStart, mk(t, tt.rules))
			want := []Finding{}
			for _, w := range tt.want {
				w.Index = -1
				for i := range rs.Rules {
					if rs.Rules[i].Path == w.Rule {
						w.Index = i
					}
				}
				want = append(want, w)
			}
			got, err := Analyze(rs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				got = []Finding{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %s\nwant %s", show(got), show(want))
			}
		})
	}
}

func show(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "[%d %s %s by %q] ", f.Index, f.Rule, f.Kind, f.By)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// TestBudget checks that a ruleset too fragmented for the budget fails
// instead of answering.
func TestBudget(t *testing.T) {
	var specs []spec
	for i := 0; i < 20; i++ {
		specs = append(specs, r(fmt.Sprint(i), drop,
			src(ep(fmt.Sprintf("10.%d.0.0/16", i))), dst(ep(fmt.Sprintf("10.0.%d.0/24", i))),
			svc(tcp(fmt.Sprintf("%d-%d", 100+i, 200+i)))))
	}
	rs := ruleset(t, 0, mk(t, specs))
	if _, err := Analyze(rs, Options{}); err != nil {
		t.Fatalf("default budget: %v", err)
	}
	for _, opt := range []Options{{MaxBoxes: 20}, {MaxSteps: 100}} {
		got, err := Analyze(rs, opt)
		if !errors.Is(err, ErrTooComplex) || got != nil {
			t.Errorf("%+v: got %v, %v; want ErrTooComplex", opt, got, err)
		}
	}
}
