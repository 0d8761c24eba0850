package access

import (
	"errors"
	"fmt"
)

// Role is what a principal is allowed to be.
type Role string

// Roles. Admin and Reader act on the whole installation; ProjectAdmin
// and ProjectReader on one project's space and nothing else; Cluster and
// Agent are certificate identities confined to their own routes.
const (
	Admin         Role = "admin"          // reads and changes everything
	Reader        Role = "reader"         // reads everything but secrets and tokens
	ProjectAdmin  Role = "project-admin"  // reads and changes one project's space
	ProjectReader Role = "project-reader" // reads one project's space
	Cluster       Role = "cluster"        // a cluster's adapter: its own inventory and heartbeat
	Agent         Role = "agent"          // an enforcement agent: its own span and report
)

// TokenRoles are the roles an API token can have.
var TokenRoles = []Role{Admin, Reader, ProjectAdmin, ProjectReader}

// IsProjectRole reports whether a role is confined to one project.
func (r Role) IsProjectRole() bool { return r == ProjectAdmin || r == ProjectReader }

// ValidTokenRole reports whether r is a role a token may have.
func ValidTokenRole(r Role) bool {
	for _, t := range TokenRoles {
		if r == t {
			return true
		}
	}
	return false
}

// Principal is an authenticated caller. The zero value is anonymous.
type Principal struct {
	// Name is how the principal appears in audit fields
	// (_create_user): "token:ID", "cluster:NAME" or "agent:NAME".
	Name string
	// ID is the token id, cluster name or agent name.
	ID   string
	Role Role
	// Project is the project of a project role.
	Project string
}

// Anonymous reports whether no identity was presented.
func (p Principal) Anonymous() bool { return p.Role == "" }

// TokenPrincipal is the principal of an API token.
func TokenPrincipal(id string, role Role, project string) Principal {
	return Principal{Name: "token:" + id, ID: id, Role: role, Project: project}
}

// ClusterPrincipal is the principal of a cluster's certificate.
func ClusterPrincipal(name string) Principal {
	return Principal{Name: "cluster:" + name, ID: name, Role: Cluster}
}

// AgentPrincipal is the principal of an agent's certificate.
func AgentPrincipal(name string) Principal {
	return Principal{Name: "agent:" + name, ID: name, Role: Agent}
}

// Rule is the access a route requires.
type Rule uint8

// Rules, from the most open.
const (
	// Public routes need no identity (health).
	Public Rule = iota + 1
	// ReadAll routes read installation-wide state: admins and readers.
	ReadAll
	// AdminOnly routes change installation-wide state or handle secrets.
	AdminOnly
	// SpaceRead routes read one space: the default space (admins and
	// readers) or the project the route names (also that project's roles).
	SpaceRead
	// SpaceWrite routes change one space: admins, and the named project's
	// admins.
	SpaceWrite
	// ClusterSelf routes are a cluster's own: only that cluster's identity.
	ClusterSelf
	// AgentSelf routes are an agent's own: only that agent's identity.
	AgentSelf
	// AnyToken routes are open to every API token, whatever its role or
	// project, and to no certificate identity: what NSX clients ask
	// before anything else (the node's version) and search, whose handler
	// answers each object only to a principal SpaceRead allows to read it.
	AnyToken
)

var ruleNames = map[Rule]string{Public: "public", ReadAll: "read", AdminOnly: "admin", SpaceRead: "space-read",
	SpaceWrite: "space-write", ClusterSelf: "cluster-self", AgentSelf: "agent-self", AnyToken: "any-token"}

func (r Rule) String() string {
	if n, ok := ruleNames[r]; ok {
		return n
	}
	return fmt.Sprintf("rule(%d)", r)
}

// Errors of a refused decision.
var (
	// ErrUnauthenticated: the route needs an identity and none was given.
	ErrUnauthenticated = errors.New("authentication required")
	// ErrForbidden: the identity may not call the route.
	ErrForbidden = errors.New("forbidden")
)

// Target is what a request's route names: the project of its space ("" for
// the default space) and the cluster or agent it is about.
type Target struct {
	Project string
	Cluster string
	Agent   string
}

// Decide says whether p may call a route with rule r on target t. A nil
// result allows the call; otherwise the error wraps ErrUnauthenticated or
// ErrForbidden and says why.
func Decide(r Rule, p Principal, t Target) error {
	if r == Public {
		return nil
	}
	if p.Anonymous() {
		return ErrUnauthenticated
	}
	switch r {
	case ReadAll:
		if p.Role == Admin || p.Role == Reader {
			return nil
		}
	case AdminOnly:
		if p.Role == Admin {
			return nil
		}
	case AnyToken:
		if ValidTokenRole(p.Role) {
			return nil
		}
	case SpaceRead, SpaceWrite:
		if p.Role == Admin || (r == SpaceRead && p.Role == Reader) {
			return nil
		}
		if p.Role == ProjectAdmin || (r == SpaceRead && p.Role == ProjectReader) {
			if t.Project != "" && t.Project == p.Project {
				return nil
			}
			if t.Project == "" {
				return fmt.Errorf("%w: %s is confined to project %q; the default space is not reachable from a project", ErrForbidden, p.Name, p.Project)
			}
			return fmt.Errorf("%w: %s is confined to project %q, not %q", ErrForbidden, p.Name, p.Project, t.Project)
		}
	case ClusterSelf:
		if p.Role == Cluster && t.Cluster != "" && p.ID == t.Cluster {
			return nil
		}
		if p.Role == Cluster {
			return fmt.Errorf("%w: %s may only report its own inventory and heartbeat", ErrForbidden, p.Name)
		}
		return fmt.Errorf("%w: only the cluster's own identity may call this", ErrForbidden)
	case AgentSelf:
		if p.Role == Agent && t.Agent != "" && p.ID == t.Agent {
			return nil
		}
		if p.Role == Agent {
			return fmt.Errorf("%w: %s may only fetch its own span and report on it", ErrForbidden, p.Name)
		}
		return fmt.Errorf("%w: only the agent's own identity may call this", ErrForbidden)
	default:
		return fmt.Errorf("%w: the route has no access rule", ErrForbidden)
	}
	return refusal(r, p)
}

func refusal(r Rule, p Principal) error {
	switch p.Role {
	case Cluster:
		return fmt.Errorf("%w: %s may only report its own inventory and heartbeat", ErrForbidden, p.Name)
	case Agent:
		return fmt.Errorf("%w: %s may only fetch its own span and report on it", ErrForbidden, p.Name)
	case ProjectAdmin, ProjectReader:
		return fmt.Errorf("%w: %s is confined to project %q", ErrForbidden, p.Name, p.Project)
	case Reader:
		return fmt.Errorf("%w: the reader role may only read", ErrForbidden)
	}
	return fmt.Errorf("%w: the %s role may not call a route that needs %s access", ErrForbidden, p.Role, r)
}
