package manager

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/wire"
)

// RefusedAddress is an address a VM's agent reported that does not count:
// it is no member of any group and decides no Applied To.
type RefusedAddress struct {
	Address netip.Addr `json:"address"`
	Reason  string     `json:"reason"`
}

// Address claims are decided by the manager, in this order: an address
// outside the agent's allowed_addresses (when it has some) is refused; an
// address inside another agent's allowed_addresses is refused to an agent
// that has none, whether or not that agent reports it now (a VM that is
// rebooting or has not reported yet keeps its addresses); an address
// inside exactly one claimant's allowed_addresses belongs to that agent,
// and every other claim of it is refused; an address several agents claim
// otherwise is refused for all of them. No agent gains by claiming
// another's address, and the collision is a finding on each of them.
//
// Claims and pins are decided within a space (the default space, or one
// project): spaces have address plans of their own, groups select VMs
// within their space, and an agent of one tenant must not be able to take
// an address, or make it count for nobody, in another's.
func (m *Manager) refreshVMsLocked() {
	if !m.vmsDirty {
		return
	}
	m.vmsDirty = false
	type claim struct {
		agent  string
		pinned bool
	}
	// An address is claimed within a space.
	type spaced struct {
		project string
		addr    netip.Addr
	}
	names := m.sortedAgentNamesLocked()
	allowed := map[string]*netipx.IPSet{}
	pinBuilders := map[string]*netipx.IPSetBuilder{}
	for _, n := range names {
		if a := m.agents[n]; a.Role == realization.RoleVM {
			if set := allowedSet(a.AllowedAddresses); set != nil {
				allowed[n] = set
				if pinBuilders[a.Project] == nil {
					pinBuilders[a.Project] = &netipx.IPSetBuilder{}
				}
				pinBuilders[a.Project].AddSet(set)
			}
		}
	}
	pinned := map[string]*netipx.IPSet{}
	for p, b := range pinBuilders {
		pinned[p], _ = b.IPSet()
	}
	claims := map[spaced][]claim{}
	refused := map[string][]RefusedAddress{}
	for _, n := range names {
		a := m.agents[n]
		if a.Role != realization.RoleVM || a.VM == nil {
			continue
		}
		set := allowed[n]
		for _, ad := range a.VM.Addresses {
			switch {
			case set != nil && !set.Contains(ad):
				refused[n] = append(refused[n], RefusedAddress{ad, "outside the agent's allowed_addresses"})
			case set == nil && pinned[a.Project] != nil && pinned[a.Project].Contains(ad):
				refused[n] = append(refused[n], RefusedAddress{ad, fmt.Sprintf("belongs to agent %s (in its allowed_addresses)", m.pinnedToLocked(allowed, a.Project, ad))})
			default:
				k := spaced{a.Project, ad}
				claims[k] = append(claims[k], claim{n, set != nil})
			}
		}
	}
	effective := map[string][]netip.Addr{}
	for k, cs := range claims {
		ad := k.addr
		owner := ""
		pinned := 0
		for _, c := range cs {
			if c.pinned {
				pinned++
				owner = c.agent
			}
		}
		if len(cs) == 1 || pinned == 1 {
			if owner == "" {
				owner = cs[0].agent
			}
			effective[owner] = append(effective[owner], ad)
			for _, c := range cs {
				if c.agent != owner {
					refused[c.agent] = append(refused[c.agent], RefusedAddress{ad, fmt.Sprintf("belongs to agent %s (in its allowed_addresses)", owner)})
				}
			}
			continue
		}
		var others []string
		for _, c := range cs {
			others = append(others, c.agent)
		}
		for _, c := range cs {
			refused[c.agent] = append(refused[c.agent], RefusedAddress{ad, "claimed by several agents (" + strings.Join(others, ", ") + "); it counts for none of them"})
		}
	}
	for n := range refused {
		slices.SortFunc(refused[n], func(a, b RefusedAddress) int { return a.Address.Compare(b.Address) })
	}
	m.vmRefused = refused
	seen := map[string]bool{}
	for _, n := range names {
		a := m.agents[n]
		if a.Role != realization.RoleVM {
			continue
		}
		seen[n] = true
		addrs := effective[n]
		slices.SortFunc(addrs, netip.Addr.Compare)
		m.vmAddrs[n] = addrs
		vm := vmObject(a, addrs)
		if old, ok := m.vmObjs[n]; ok && sameVM(old, vm) {
			continue
		}
		if old, ok := m.vmObjs[n]; ok && old.Cluster != vm.Cluster {
			m.idx.Delete(inventory.KeyOf(old))
		}
		m.vmObjs[n] = vm
		m.idx.Upsert(vm)
		m.retireSpan(n)
	}
	for n, old := range m.vmObjs {
		if !seen[n] {
			m.idx.Delete(inventory.KeyOf(old))
			delete(m.vmObjs, n)
			delete(m.vmAddrs, n)
		}
	}
}

// pinnedToLocked names the agents of a space whose allowed_addresses
// hold ad; it is only asked for refused claims, so a scan is cheap enough.
func (m *Manager) pinnedToLocked(allowed map[string]*netipx.IPSet, project string, ad netip.Addr) string {
	var owners []string
	for n, set := range allowed {
		if m.agents[n].Project == project && set.Contains(ad) {
			owners = append(owners, n)
		}
	}
	slices.Sort(owners)
	return strings.Join(owners, ", ")
}

func allowedSet(list []string) *netipx.IPSet {
	if len(list) == 0 {
		return nil
	}
	var b netipx.IPSetBuilder
	for _, s := range list {
		if r, err := address.ParseRange(s); err == nil {
			b.AddRange(r)
		}
	}
	set, _ := b.IPSet()
	return set
}

// vmObject is the inventory object of a VM's agent: what groups with the
// VirtualMachine member type select. Everything but its addresses is
// the manager's.
func vmObject(a *Agent, addrs []netip.Addr) *inventory.VirtualMachine {
	vm := &inventory.VirtualMachine{Meta: inventory.Meta{Cluster: inventory.VMClusterFor(a.Project), Name: a.Name},
		Addresses: addrs, OSName: a.OSName, ComputerName: a.ComputerName}
	for _, t := range a.Tags {
		vm.Tags = append(vm.Tags, inventory.Tag{Scope: t.Scope, Value: t.Tag})
	}
	return vm
}

func sameVM(a, b *inventory.VirtualMachine) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// checkFacts validates what a VM's agent reports about itself.
func checkFacts(f *wire.VMFacts) error {
	if len(f.Tags) > 0 {
		return invalidf("vm.tags: an agent does not report its tags; set them on its record (kordon agent register --tag, or kordon agent set-tags)")
	}
	if len(f.Addresses) > wire.MaxVMAddresses {
		return invalidf("vm.ip_addresses: %d addresses; a VM reports at most %d", len(f.Addresses), wire.MaxVMAddresses)
	}
	seen := map[netip.Addr]bool{}
	for i, a := range f.Addresses {
		switch {
		case !a.IsValid():
			return invalidf("vm.ip_addresses[%d]: not an address", i)
		case a.Is4In6():
			return invalidf("vm.ip_addresses[%d]: %s is an IPv4-mapped IPv6 address; report the IPv4 address", i, a)
		case a.Zone() != "":
			return invalidf("vm.ip_addresses[%d]: %s has a zone", i, a)
		case !a.IsGlobalUnicast():
			return invalidf("vm.ip_addresses[%d]: %s is not a unicast address other hosts reach (loopback, link-local, multicast and unspecified addresses are refused)", i, a)
		case seen[a]:
			return invalidf("vm.ip_addresses[%d]: %s is reported twice", i, a)
		}
		seen[a] = true
	}
	if err := checkTextField("vm.os_name", f.OSName); err != nil {
		return err
	}
	return checkTextField("vm.computer_name", f.ComputerName)
}
