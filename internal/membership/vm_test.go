package membership

import (
	"testing"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

func vm(name, osName string, tags []inventory.Tag, addrs ...string) *inventory.VirtualMachine {
	return &inventory.VirtualMachine{Meta: inventory.Meta{Cluster: inventory.VMCluster, Name: name}, Addresses: ips(addrs...),
		OSName: osName, ComputerName: name + ".corp", Tags: tags}
}

// TestVirtualMachineCriteria: VMs reported by agents are VirtualMachine
// members, by name, tag (scope|tag as given, not labels), OS name and
// computer name, and follow changes.
func TestVirtualMachineCriteria(t *testing.T) {
	x := New()
	app := []inventory.Tag{{Scope: "tier", Value: "App"}}
	x.Upsert(vm("app-1", "Debian GNU/Linux 12", app, "172.16.20.10", "fd00::10"))
	x.Upsert(vm("app-2", "Windows Server 2022", app, "172.16.20.11"))
	x.Upsert(vm("db-1", "Debian GNU/Linux 12", []inventory.Tag{{Scope: "tier", Value: "db"}}, "172.16.10.5"))
	x.Upsert(lbService("east", "shop", "app-1", "192.168.1.1")) // same name, another type
	for _, tc := range []struct {
		name string
		g    *model.Group
		want []string
	}{
		{"by tag", newGroupDef(condition(model.MemberVirtualMachine, model.KeyTag, model.OpEquals, "tier|app")), []string{"172.16.20.10/31", "fd00::10"}},
		{"by any-scope tag", newGroupDef(condition(model.MemberVirtualMachine, model.KeyTag, model.OpEquals, "|db")), []string{"172.16.10.5"}},
		{"by name", newGroupDef(condition(model.MemberVirtualMachine, model.KeyName, model.OpEquals, "APP-1")), []string{"172.16.20.10", "fd00::10"}},
		{"by OS name", newGroupDef(condition(model.MemberVirtualMachine, model.KeyOSName, model.OpContains, "debian")), []string{"172.16.10.5", "172.16.20.10", "fd00::10"}},
		{"by OS name and tag", newGroupDef(nested(condition(model.MemberVirtualMachine, model.KeyOSName, model.OpStartsWith, "windows"),
			condition(model.MemberVirtualMachine, model.KeyTag, model.OpEquals, "tier|app"))), []string{"172.16.20.11"}},
		{"by computer name", newGroupDef(condition(model.MemberVirtualMachine, model.KeyComputerName, model.OpEndsWith, "-1.corp")), []string{"172.16.10.5", "172.16.20.10", "fd00::10"}},
		{"an OS name equal to a VM's name is not its name", newGroupDef(condition(model.MemberVirtualMachine, model.KeyOSName, model.OpEquals, "app-1")), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := "/infra/domains/default/groups/" + tc.name
			setGroup(t, x, p, tc.g)
			if got := addrs(x, p); !equalStrings(got, tc.want) {
				t.Errorf("addresses %v, want %v", got, tc.want)
			}
		})
	}
	// A VM's report changes: its tag, then its addresses; then it leaves.
	p := "/infra/domains/default/groups/by tag"
	x.TakeDeltas()
	x.Upsert(vm("app-2", "Windows Server 2022", []inventory.Tag{{Scope: "tier", Value: "web"}}, "172.16.20.11"))
	if got := addrs(x, p); !equalStrings(got, []string{"172.16.20.10", "fd00::10"}) {
		t.Errorf("after a tag change: %v", got)
	}
	x.Upsert(vm("app-1", "Debian GNU/Linux 12", app, "172.16.20.12"))
	if got := addrs(x, p); !equalStrings(got, []string{"172.16.20.12"}) {
		t.Errorf("after an address change: %v", got)
	}
	x.Delete(inventory.Key{Cluster: inventory.VMCluster, Kind: inventory.KindVirtualMachine, Name: "app-1"})
	if got := addrs(x, p); len(got) != 0 {
		t.Errorf("after the VM left: %v", got)
	}
	if len(x.TakeDeltas()) == 0 {
		t.Error("VM changes produced no deltas")
	}
}
