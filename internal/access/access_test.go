package access

import (
	"errors"
	"testing"
)

// TestDecide holds every rule against every kind of principal, including
// the ones that must be refused: a decision table, so a change of policy
// shows up here line by line.
func TestDecide(t *testing.T) {
	admin := TokenPrincipal("admin", Admin, "")
	reader := TokenPrincipal("r", Reader, "")
	pa := TokenPrincipal("pa", ProjectAdmin, "a")
	pr := TokenPrincipal("pr", ProjectReader, "a")
	east := ClusterPrincipal("east")
	agent := AgentPrincipal("vm-1")
	var none Principal
	const (
		ok   = ""
		auth = "auth"
		deny = "deny"
	)
	for _, tt := range []struct {
		name string
		rule Rule
		p    Principal
		t    Target
		want string
	}{
		{"health is public", Public, none, Target{}, ok},
		{"read needs an identity", ReadAll, none, Target{}, auth},
		{"reader reads", ReadAll, reader, Target{}, ok},
		{"admin reads", ReadAll, admin, Target{}, ok},
		{"project reader may not read installation-wide state", ReadAll, pr, Target{}, deny},
		{"cluster may not read", ReadAll, east, Target{}, deny},
		{"agent may not read", ReadAll, agent, Target{}, deny},
		{"reader may not administer", AdminOnly, reader, Target{}, deny},
		{"project admin may not administer", AdminOnly, pa, Target{}, deny},
		{"admin administers", AdminOnly, admin, Target{}, ok},
		{"reader reads the default space", SpaceRead, reader, Target{}, ok},
		{"reader reads a project", SpaceRead, reader, Target{Project: "a"}, ok},
		{"project reader reads its project", SpaceRead, pr, Target{Project: "a"}, ok},
		{"project reader may not read another project", SpaceRead, pr, Target{Project: "b"}, deny},
		{"project reader may not read the default space", SpaceRead, pr, Target{}, deny},
		{"project reader may not write its project", SpaceWrite, pr, Target{Project: "a"}, deny},
		{"project admin writes its project", SpaceWrite, pa, Target{Project: "a"}, ok},
		{"project admin may not write another project", SpaceWrite, pa, Target{Project: "b"}, deny},
		{"project admin may not write the default space", SpaceWrite, pa, Target{}, deny},
		{"reader may not write a space", SpaceWrite, reader, Target{}, deny},
		{"admin writes a project", SpaceWrite, admin, Target{Project: "b"}, ok},
		{"cluster may not read a space", SpaceRead, east, Target{}, deny},
		{"cluster reports itself", ClusterSelf, east, Target{Cluster: "east"}, ok},
		{"cluster may not report another", ClusterSelf, east, Target{Cluster: "west"}, deny},
		{"admin may not speak for a cluster", ClusterSelf, admin, Target{Cluster: "east"}, deny},
		{"agent may not speak for a cluster", ClusterSelf, AgentPrincipal("east"), Target{Cluster: "east"}, deny},
		{"agent fetches its span", AgentSelf, agent, Target{Agent: "vm-1"}, ok},
		{"agent may not fetch another's", AgentSelf, agent, Target{Agent: "vm-2"}, deny},
		{"cluster named like an agent is not that agent", AgentSelf, ClusterPrincipal("vm-1"), Target{Agent: "vm-1"}, deny},
		{"admin may not speak for an agent", AgentSelf, admin, Target{Agent: "vm-1"}, deny},
		{"anonymous may not speak for an agent", AgentSelf, none, Target{Agent: "vm-1"}, auth},
		{"empty target names no cluster", ClusterSelf, ClusterPrincipal(""), Target{}, deny},
		{"any token: admin", AnyToken, admin, Target{}, ok},
		{"any token: reader", AnyToken, reader, Target{}, ok},
		{"any token: project admin", AnyToken, pa, Target{}, ok},
		{"any token: project reader", AnyToken, pr, Target{}, ok},
		{"any token: not a cluster", AnyToken, east, Target{}, deny},
		{"any token: not an agent", AnyToken, agent, Target{}, deny},
		{"any token: not anonymous", AnyToken, none, Target{}, auth},
		{"unknown rule refuses", Rule(99), admin, Target{}, deny},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Decide(tt.rule, tt.p, tt.t)
			got := ok
			switch {
			case errors.Is(err, ErrUnauthenticated):
				got = auth
			case errors.Is(err, ErrForbidden):
				got = deny
			case err != nil:
				t.Fatalf("unexpected error kind: %v", err)
			}
			if got != tt.want {
				t.Fatalf("Decide(%s, %+v, %+v) = %v, want %s", tt.rule, tt.p, tt.t, err, tt.want)
			}
		})
	}
}

func TestTokenRoles(t *testing.T) {
	for _, r := range TokenRoles {
		if !ValidTokenRole(r) {
			t.Errorf("%s is listed but not valid", r)
		}
	}
	for _, r := range []Role{Cluster, Agent, "", "root"} {
		if ValidTokenRole(r) {
			t.Errorf("%q must not be a token role", r)
		}
	}
}
