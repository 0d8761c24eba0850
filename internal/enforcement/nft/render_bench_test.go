package nft

import (
	"fmt"
	"net/netip"
	"testing"

	"go4.org/netipx"
	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
)

// BenchmarkReplaceText measures what the agent does in process to
// replace its table with 10,000 rules over 100,000 addresses (class
// maps): compile the span, render the transaction and write its text, as
// knftables does before it runs nft.
//
//	go test ./internal/enforcement/nft -run '^$' -bench ReplaceText -benchtime 5x
func BenchmarkReplaceText(b *testing.B) {
	s := &realization.Span{Point: "/infra/tier-1s/bench", Role: realization.RoleGateway, Revision: 1}
	h := realization.Hook{Name: realization.HookForward, AppStart: 10000}
	for i := range 10000 {
		name := fmt.Sprintf("s%05d", i)
		var sb netipx.IPSetBuilder
		for j := range 10 {
			v := uint32(10<<24|128<<16) + uint32(i*10+j)*4
			sb.Add(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}))
		}
		set, _ := sb.IPSet()
		s.Sets = append(s.Sets, realization.Set{Name: name, Names: []string{"/infra/domains/default/groups/g" + name}, Ranges: set.Ranges()})
		h.Rules = append(h.Rules, realization.Rule{Path: "/infra/domains/default/gateway-policies/bench/rules/r" + name, Policy: "/infra/domains/default/gateway-policies/bench",
			Action: policy.ActionAllow, V4: true, V6: true, Src: realization.Endpoint{Set: name}, Dst: realization.Endpoint{Any: true},
			Services: []realization.Service{{Proto: address.TCP, DstPorts: []address.PortRange{{From: 80, To: 80}}}}})
	}
	s.Hooks = []realization.Hook{h}
	s.Rehash()
	fake := knftables.NewFake(knftables.InetFamily, DefaultTable)
	b.ResetTimer()
	for b.Loop() {
		tx := fake.NewTransaction()
		render(tx, Compile(s), elementsPerCommand)
		_ = tx.String()
	}
}
