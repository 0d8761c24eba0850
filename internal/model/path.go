package model

import (
	"fmt"
	"strings"
)

// Kind names an object type as NSX spells its resource_type.
type Kind string

// The object kinds kordon stores.
const (
	KindDomain         Kind = "Domain"
	KindGroup          Kind = "Group"
	KindService        Kind = "Service"
	KindSecurityPolicy Kind = "SecurityPolicy"
	KindGatewayPolicy  Kind = "GatewayPolicy"
	KindRule           Kind = "Rule"
	KindTier0          Kind = "Tier0"
	KindTier1          Kind = "Tier1"
)

// DefaultDomain is the only domain NSX allows Kubernetes member types in,
// and the domain kordon puts objects in when a document names none.
const DefaultDomain = "default"

// projectPrefix starts every path inside a project (multi-tenancy).
const projectPrefix = "/orgs/default/projects/"

// Ref is a parsed policy path. Project is empty for the default space.
// Policy is set for rules (the id of their security or gateway policy);
// PolicyKind says which.
type Ref struct {
	Project    string
	Domain     string
	Kind       Kind
	ID         string
	Policy     string
	PolicyKind Kind
}

// Space returns the path prefix of the project (empty for the default space).
func Space(project string) string {
	if project == "" {
		return ""
	}
	return projectPrefix + project
}

// Path renders the reference as an NSX policy path.
func (r Ref) Path() string {
	s := Space(r.Project)
	switch r.Kind {
	case KindDomain:
		return s + "/infra/domains/" + r.Domain
	case KindGroup:
		return s + "/infra/domains/" + r.Domain + "/groups/" + r.ID
	case KindService:
		return s + "/infra/services/" + r.ID
	case KindSecurityPolicy:
		return s + "/infra/domains/" + r.Domain + "/security-policies/" + r.ID
	case KindGatewayPolicy:
		return s + "/infra/domains/" + r.Domain + "/gateway-policies/" + r.ID
	case KindRule:
		p := Ref{Project: r.Project, Domain: r.Domain, Kind: r.PolicyKind, ID: r.Policy}
		return p.Path() + "/rules/" + r.ID
	case KindTier0:
		return s + "/infra/tier-0s/" + r.ID
	case KindTier1:
		return s + "/infra/tier-1s/" + r.ID
	}
	return ""
}

// Parent returns the path of the object's parent in the hierarchy.
func (r Ref) Parent() string {
	switch r.Kind {
	case KindGroup, KindSecurityPolicy, KindGatewayPolicy:
		return Ref{Project: r.Project, Domain: r.Domain, Kind: KindDomain}.Path()
	case KindRule:
		return Ref{Project: r.Project, Domain: r.Domain, Kind: r.PolicyKind, ID: r.Policy}.Path()
	}
	return Space(r.Project) + "/infra"
}

// GroupPath returns the path of a group in the default space.
func GroupPath(domain, id string) string {
	return Ref{Domain: domain, Kind: KindGroup, ID: id}.Path()
}

// ServicePath returns the path of a service in the default space.
func ServicePath(id string) string { return "/infra/services/" + id }

// ParsePath parses an NSX policy path such as
// /infra/domains/default/groups/web or
// /orgs/default/projects/dev/infra/tier-1s/t1.
func ParsePath(p string) (Ref, error) {
	var r Ref
	rest := p
	if strings.HasPrefix(rest, projectPrefix) {
		rest = rest[len(projectPrefix):]
		i := strings.IndexByte(rest, '/')
		if i <= 0 {
			return r, fmt.Errorf("path %q: project path has no /infra part", p)
		}
		r.Project, rest = rest[:i], rest[i:]
		if !ValidID(r.Project) {
			return r, fmt.Errorf("path %q: project id %q is not valid: %s", p, r.Project, IDRule)
		}
	}
	if !strings.HasPrefix(rest, "/infra/") {
		return r, fmt.Errorf("path %q: must start with /infra/ or %s<project>/infra/", p, projectPrefix)
	}
	seg := strings.Split(rest[len("/infra/"):], "/")
	for _, s := range seg {
		if s == "" {
			return r, fmt.Errorf("path %q: empty path segment", p)
		}
		if !ValidID(s) {
			return r, fmt.Errorf("path %q: %q is not a valid id: %s", p, s, IDRule)
		}
	}
	switch {
	case len(seg) == 2 && seg[0] == "services":
		r.Kind, r.ID = KindService, seg[1]
	case len(seg) == 2 && seg[0] == "tier-0s":
		r.Kind, r.ID = KindTier0, seg[1]
	case len(seg) == 2 && seg[0] == "tier-1s":
		r.Kind, r.ID = KindTier1, seg[1]
	case len(seg) >= 2 && seg[0] == "domains":
		r.Domain = seg[1]
		return parseDomainPath(p, r, seg[2:])
	default:
		return r, fmt.Errorf("path %q: not a path to a domain, group, service, policy, rule, tier-0 or tier-1", p)
	}
	return r, nil
}

func parseDomainPath(p string, r Ref, seg []string) (Ref, error) {
	switch {
	case len(seg) == 0:
		r.Kind = KindDomain
	case len(seg) == 2 && seg[0] == "groups":
		r.Kind, r.ID = KindGroup, seg[1]
	case len(seg) == 2 && seg[0] == "security-policies":
		r.Kind, r.ID = KindSecurityPolicy, seg[1]
	case len(seg) == 2 && seg[0] == "gateway-policies":
		r.Kind, r.ID = KindGatewayPolicy, seg[1]
	case len(seg) == 4 && seg[0] == "security-policies" && seg[2] == "rules":
		r.Kind, r.Policy, r.PolicyKind, r.ID = KindRule, seg[1], KindSecurityPolicy, seg[3]
	case len(seg) == 4 && seg[0] == "gateway-policies" && seg[2] == "rules":
		r.Kind, r.Policy, r.PolicyKind, r.ID = KindRule, seg[1], KindGatewayPolicy, seg[3]
	default:
		return r, fmt.Errorf("path %q: not a path to a domain, group, policy or rule", p)
	}
	return r, nil
}
