package realization

import (
	"net/netip"

	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

// ForGateway computes the span of a gateway firewall: the gateway
// policies scoped to the tier-0 or tier-1 at path, on forwarded traffic.
func ForGateway(cfg *model.Config, m policy.Members, revision int64, path string) *Span {
	rs := policy.Compile(cfg, m, policy.Point{Gateway: path})
	return Build(path, RoleGateway, revision, []string{HookForward}, []*policy.Ruleset{rs})
}

// ForVM computes the distributed firewall span of a VM of a space (""
// for the default space): the rules of its space and of the default space
// whose Applied To covers it (a scope group holding one of its addresses,
// or no scope), split by the direction they apply in.
func ForVM(cfg *model.Config, m policy.Members, revision int64, name, project string, addrs []netip.Addr) *Span {
	covers := func(scope []string) bool {
		for _, g := range scope {
			set := m.IPSet(g)
			for _, a := range addrs {
				if set != nil && set.Contains(a) {
					return true
				}
			}
		}
		return false
	}
	in := policy.Compile(cfg, m, policy.Point{AppliedTo: covers, Direction: policy.In, Project: project})
	out := policy.Compile(cfg, m, policy.Point{AppliedTo: covers, Direction: policy.Out, Project: project})
	return Build("vm:"+name, RoleVM, revision, []string{HookIn, HookOut}, []*policy.Ruleset{in, out})
}
