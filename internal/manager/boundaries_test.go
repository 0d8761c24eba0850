package manager

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/wire"
)

// TestPinnedAddressWhileItsAgentIsSilent: an address pinned to an agent
// (its allowed_addresses) stays its own while it reports nothing (not yet
// reported, rebooting, interface down): another agent that claims it gets
// no group membership and no Applied To from it.
func TestPinnedAddressWhileItsAgentIsSilent(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, claimsDoc)}); err != nil {
		t.Fatal(err)
	}
	// The database is pinned to 172.16.10.5 but reports nothing for now.
	e.vm(t, AgentSpec{Name: "db", AgentAttributes: AgentAttributes{AllowedAddresses: []string{"172.16.10.5"}}})
	// A trusted VM, compromised, claims the database's address.
	e.vm(t, AgentSpec{Name: "app", AgentAttributes: AgentAttributes{Tags: []model.Tag{{Scope: "role", Tag: "trusted"}}}}, "172.16.20.10", "172.16.10.5")
	app := e.status(t, "app")
	if slices.Contains(app.Addresses, "172.16.10.5") {
		t.Errorf("an unpinned agent holds an address pinned to another agent: effective %v, refused %+v", app.Addresses, app.Refused)
	}
	if got := addressesOf(e, "/infra/domains/default/groups/trusted"); slices.Contains(got, "172.16.10.5") {
		t.Errorf("the pinned address of db is now a member of the attacker's group trusted: %v", got)
	}
	if len(app.Refused) != 1 || !strings.Contains(app.Refused[0].Reason, "agent db") {
		t.Errorf("the refusal should name the agent the address is pinned to: %+v", app.Refused)
	}
}

// TestProjectIDsDifferByMoreThanCase: groups match a VM's pseudo-cluster
// "@vms:<project>" without case (as NSX matches names), so projects Dev
// and dev would select each other's VMs: the second is refused.
func TestProjectIDsDifferByMoreThanCase(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.PutProject(e.ctx, Project{ID: "dev"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.m.PutProject(e.ctx, Project{ID: "Dev"})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), `project "dev" exists`) {
		t.Fatalf("project Dev beside dev: %v", err)
	}
	if _, ok := e.m.Project("Dev"); ok {
		t.Fatal("project Dev was created")
	}
	// Replacing a project keeps working.
	if _, err := e.m.PutProject(e.ctx, Project{ID: "dev", Description: "again"}); err != nil {
		t.Fatal(err)
	}
}

// TestAdminTokenThatExpiresIsNotTheLastAdmin: the installation always
// keeps an admin token without expiry; one that expires does not count,
// since it will not be one for long.
func TestAdminTokenThatExpiresIsNotTheLastAdmin(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "temp-admin", Role: access.Admin, Expires: e.clock.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RevokeToken(e.ctx, "admin"); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "without an expiry") {
		t.Fatalf("revoking the only admin token without expiry: %v", err)
	}
	if err := e.m.RevokeToken(e.ctx, "temp-admin"); err != nil {
		t.Fatalf("an admin token that expires can always be revoked: %v", err)
	}
	if _, _, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "admin2", Role: access.Admin}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RevokeToken(e.ctx, "admin"); err != nil {
		t.Fatalf("with another admin token without expiry: %v", err)
	}
	if err := e.m.RevokeToken(e.ctx, "admin2"); !errors.Is(err, ErrConflict) {
		t.Fatalf("revoking the last one: %v", err)
	}
}

// TestLastAdminTokenAcrossManagers: two managers revoking the last two
// admin tokens at once: the rule is checked against the store and each
// deletion is conditioned on the tokens it counted, so exactly one wins.
func TestLastAdminTokenAcrossManagers(t *testing.T) {
	lost := 0
	const rounds = 5
	for range rounds {
		st := openStore(t, t.TempDir())
		c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
		a, b := start(t, st, c), start(t, st, c)
		if _, _, err := a.m.CreateToken(a.ctx, TokenRequest{ID: "admin2", Role: access.Admin}); err != nil {
			t.Fatal(err)
		}
		if err := b.m.WaitApplied(b.ctx, a.m.Revision()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Add(2)
		go func() { defer wg.Done(); errs[0] = a.m.RevokeToken(a.ctx, "admin") }()
		go func() { defer wg.Done(); errs[1] = b.m.RevokeToken(b.ctx, "admin2") }()
		wg.Wait()
		if errs[0] == nil && errs[1] == nil {
			lost++
		}
		if errs[0] != nil && errs[1] != nil {
			t.Errorf("neither revocation succeeded: %v; %v", errs[0], errs[1])
		}
		a.stop()
		b.stop()
	}
	if lost > 0 {
		t.Errorf("%d of %d rounds: both admin tokens revoked at once, no administrator left", lost, rounds)
	}
}

// TestProjectTokenDoesNotOutliveProject: a token issued while its project
// is deleted, on another manager or on the same one (whose memory lags the
// store), is either refused or deleted with the project; it never works in
// a project created again under the same id.
func TestProjectTokenDoesNotOutliveProject(t *testing.T) {
	// race issues a token on a while b deletes the project, and reports
	// whether the token then works in the project created again.
	race := func(t *testing.T, a, b *env, id string) bool {
		if _, err := a.m.PutProject(a.ctx, Project{ID: "team-a"}); err != nil {
			t.Fatal(err)
		}
		if err := b.m.WaitApplied(b.ctx, a.m.Revision()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var tok string
		var cerr, derr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			tok, _, cerr = a.m.CreateToken(a.ctx, TokenRequest{ID: id, Role: access.ProjectAdmin, Project: "team-a"})
		}()
		go func() { defer wg.Done(); derr = b.m.DeleteProject(b.ctx, "team-a") }()
		wg.Wait()
		if err := a.m.WaitApplied(a.ctx, b.m.Revision()); err != nil {
			t.Fatal(err)
		}
		survived := false
		if cerr == nil && derr == nil {
			if _, err := a.m.PutProject(a.ctx, Project{ID: "team-a"}); err != nil {
				t.Fatal(err)
			}
			p, ok := a.m.Authenticate(tok)
			survived = ok && p.Project == "team-a"
		}
		if _, ok := a.m.Project("team-a"); ok {
			if err := a.m.DeleteProject(a.ctx, "team-a"); err != nil {
				t.Fatal(err)
			}
		}
		return survived
	}
	t.Run("two managers", func(t *testing.T) {
		st := openStore(t, t.TempDir())
		c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
		a, b := start(t, st, c), start(t, st, c)
		for i := range 10 {
			if race(t, a, b, fmt.Sprint("t", i)) {
				t.Errorf("round %d: a token of a deleted project works in the project created again", i)
			}
		}
	})
	t.Run("one manager", func(t *testing.T) {
		e := newEnv(t)
		for i := range 20 {
			if race(t, e, e, fmt.Sprint("t", i)) {
				t.Errorf("round %d: a token of a deleted project works in the project created again", i)
			}
		}
	})
}

// TestClusterWriteBudget: every version a cluster writes stays in etcd's
// history for an hour, so rewriting the same objects could fill etcd's
// quota. A cluster spends from a budget of bytes that refills at a steady
// rate; a write past it is refused (429) and changes nothing, and the
// budget returns with time.
func TestClusterWriteBudget(t *testing.T) {
	e := newEnv(t)
	e.m.writes = newBudgets(4<<20, 3600<<10) // 4 MiB, regained at 1 KiB/s
	if _, _, err := e.m.RegisterCluster(e.ctx, "east", SourceAdapter); err != nil {
		t.Fatal(err)
	}
	objs := func(w int) []inventory.Object {
		var out []inventory.Object
		for i := range 4 {
			s := lbService(fmt.Sprintf("svc-%d", i), "192.168.1.1")
			s.Labels = map[string]string{}
			for l := range 250 {
				s.Labels[fmt.Sprintf("example.com/%0300d", l)] = fmt.Sprintf("v%d", w)
			}
			out = append(out, s)
		}
		return out
	}
	rev, refused := int64(0), -1
	for w := range 20 { // 20 writes of ~320 KiB
		next, err := e.m.WriteInventory(e.ctx, "east", rev, objs(w), nil, w == 0)
		if err != nil {
			if !errors.Is(err, ErrTooFrequent) || !strings.Contains(err.Error(), "budget") {
				t.Fatalf("write %d: %v", w, err)
			}
			refused = w
			break
		}
		rev = next
	}
	if refused < 10 || refused > 14 {
		t.Fatalf("the 4 MiB budget ended at write %d, want about the 13th", refused)
	}
	before := e.m.Revision()
	if _, err := e.m.WriteInventory(e.ctx, "east", rev, objs(99), nil, false); !errors.Is(err, ErrTooFrequent) {
		t.Fatalf("over budget: %v", err)
	}
	if after := e.m.Revision(); after != before {
		t.Fatalf("a refused write changed the store: revision %d -> %d", before, after)
	}
	e.clock.advance(10 * time.Minute) // 600 KiB regained
	if _, err := e.m.WriteInventory(e.ctx, "east", rev, objs(100), nil, false); err != nil {
		t.Fatalf("after the budget refilled: %v", err)
	}
}

// TestAgentCannotRewriteAnotherAgentsCounters: a rule's statistics sum
// every agent's counters, each capped, saturating: one agent's counts can
// make a total large, never wrap it or freeze it to hide what the others
// counted; and counters sent in reports that change nothing else are
// shown at once.
func TestAgentCannotRewriteAnotherAgentsCounters(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc)}); err != nil {
		t.Fatal(err)
	}
	const rule = "/infra/domains/default/security-policies/p/rules/r2"
	e.vm(t, AgentSpec{Name: "honest"}, "172.16.0.10")
	e.vm(t, AgentSpec{Name: "evil"}, "172.16.0.11")
	send := func(name string, packets uint64) {
		e.clock.advance(time.Second)
		if err := e.m.RecordAgentReport(e.ctx, name, wire.AgentReport{State: "success", Interval: 10 * time.Second,
			Counters: map[string]wire.RuleCounters{rule: {Packets: packets, Bytes: packets}}}); err != nil {
			t.Fatal(err)
		}
	}
	send("honest", 1234)
	if got := e.m.RuleStatistics("/infra/domains/default/security-policies/p")[rule]; got.Packets != 1234 {
		t.Fatalf("after the honest agent's report: %d packets, want 1234", got.Packets)
	}
	send("evil", ^uint64(0)-1234+1)
	got := e.m.RuleStatistics("/infra/domains/default/security-policies/p")[rule]
	if got.Packets != 1234+maxCounter {
		t.Errorf("the honest agent counted 1234 hits of %s; after another agent's report the total is %d", rule, got.Packets)
	}
}

// TestReportDoesNotRevertRotation: a report that changes a VM's facts
// rewrites its agent record conditioned on the record it read, so a
// report racing a rotation (or an admin's update of tags and allowed
// addresses) never writes the old record back: the old certificate stays
// refused, and the admin's update stays.
func TestReportDoesNotRevertRotation(t *testing.T) {
	e := newEnv(t)
	e.vm(t, AgentSpec{Name: "vm"}, "172.16.0.1")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e.clock.advance(time.Second)
			addr := netipAddr(fmt.Sprintf("172.16.0.%d", 1+i%2))
			_ = e.m.RecordAgentReport(e.ctx, "vm", wire.AgentReport{State: "success", Interval: 10 * time.Second, VM: &wire.VMFacts{Addresses: []netip.Addr{addr}}})
		}
	}()
	reverted, lost := 0, 0
	const rounds = 40
	for i := range rounds {
		old := e.status(t, "vm").CertSerial
		a, _, err := e.m.RotateAgent(e.ctx, "vm")
		if err != nil {
			continue // a conflict with a report: the admin tries again
		}
		tags := []model.Tag{{Scope: "round", Tag: fmt.Sprint(i)}}
		if _, err := e.m.UpdateAgent(e.ctx, "vm", AgentUpdate{Tags: &tags}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if e.m.AgentIdentity("vm", a.CertSerial) != nil && e.m.AgentIdentity("vm", old) == nil {
			reverted++
		}
		if st := e.status(t, "vm"); len(st.Tags) != 1 || st.Tags[0].Tag != fmt.Sprint(i) {
			lost++
		}
	}
	close(stop)
	wg.Wait()
	if reverted > 0 || lost > 0 {
		t.Errorf("of %d rotations and updates acknowledged, a concurrent report undid %d rotations (the new certificate refused, the old one accepted) and %d tag updates", rounds, reverted, lost)
	}
}

// TestProjectTier0Grants: a project's tier-1 connects only to a tier-0 the
// provider granted the project (its tier_0s), and is refused the same way
// whether an ungranted tier-0 exists or not, so the refusal tells nothing
// of the provider's space. A grant in use cannot be withdrawn.
func TestProjectTier0Grants(t *testing.T) {
	e := newEnv(t)
	t0 := `
resource_type: Infra
children:
- {resource_type: ChildTier0, Tier0: {id: edge}}
`
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, t0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team", Tier0s: []string{"/infra/tier-0s/nope"}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("granting a missing tier-0: %v", err)
	}
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team", Tier0s: []string{"/orgs/default/projects/x/infra/tier-1s/a"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("granting a tier-1: %v", err)
	}
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team"}); err != nil {
		t.Fatal(err)
	}
	t1 := func(tier0 string) *model.Infra {
		return doc(t, `
resource_type: Infra
children:
- {resource_type: ChildTier1, Tier1: {id: t1, tier0_path: "`+tier0+`"}}
`)
	}
	var msgs []string
	for _, t0 := range []string{"/infra/tier-0s/edge", "/infra/tier-0s/nope"} {
		_, err := e.m.Apply(e.ctx, ApplyRequest{Project: "team", Doc: t1(t0)})
		var we *WriteError
		if !errors.As(err, &we) || !errors.Is(err, ErrInvalid) || len(we.Details) != 1 {
			t.Fatalf("a tier-1 on an ungranted tier-0 %s: %v", t0, err)
		}
		msgs = append(msgs, strings.ReplaceAll(we.Details[0].Reason, t0, "T0"))
	}
	if msgs[0] != msgs[1] {
		t.Errorf("an existing and a missing tier-0 are refused differently: %q vs %q", msgs[0], msgs[1])
	}
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team", Tier0s: []string{"/infra/tier-0s/edge"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Project: "team", Doc: t1("/infra/tier-0s/edge")}); err != nil {
		t.Fatalf("a tier-1 on a granted tier-0: %v", err)
	}
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team"}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "tier-1s/t1") {
		t.Fatalf("withdrawing a grant in use: %v", err)
	}
	if p, _ := e.m.Project("team"); len(p.Tier0s) != 1 {
		t.Fatalf("the grant changed: %+v", p)
	}
}

// TestProjectTextIsChecked: a project's display name, description and
// tags are held to the limits of every object's.
func TestProjectTextIsChecked(t *testing.T) {
	e := newEnv(t)
	for _, p := range []Project{
		{ID: "a", DisplayName: "evil\x1b[2Jname"},
		{ID: "a", DisplayName: strings.Repeat("n", 256)},
		{ID: "a", Description: "right-to-left \u202e override"},
		{ID: "a", Tags: []model.Tag{{Scope: "s", Tag: "line\nbreak"}}},
	} {
		if _, err := e.m.PutProject(e.ctx, p); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", p, err)
		}
	}
	if len(e.m.Projects()) != 0 {
		t.Fatal("a refused project was stored")
	}
}
