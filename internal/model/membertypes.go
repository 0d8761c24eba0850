package model

import (
	"slices"
	"strings"
)

// This file holds the member-type and operator tables. Validation
// (validate_group.go), the membership engine's criteria and the API's
// per-type member endpoints all read them, so what a member type accepts
// is declared once; README.md ("Adding a member type") lists what else a
// new type needs.

// Member types (Condition.member_type) kordon evaluates.
const (
	MemberKubernetesCluster   = "KubernetesCluster"
	MemberKubernetesNamespace = "KubernetesNamespace"
	MemberKubernetesService   = "KubernetesService"
	MemberKubernetesIngress   = "KubernetesIngress"
	MemberKubernetesGateway   = "KubernetesGateway"
	MemberKubernetesNode      = "KubernetesNode"
	MemberAntreaEgress        = "AntreaEgress"
	MemberAntreaIPPool        = "AntreaIPPool"
	MemberVirtualMachine      = "VirtualMachine"
)

// Condition keys.
const (
	KeyName         = "Name"
	KeyTag          = "Tag"
	KeyIPAddress    = "IPAddress"
	KeyPodCidr      = "PodCidr"
	KeyOSName       = "OSName"
	KeyComputerName = "ComputerName"
)

// Condition operators. Matching is case-insensitive for all of them.
const (
	OpEquals     = "EQUALS"
	OpNotEquals  = "NOTEQUALS"
	OpContains   = "CONTAINS"
	OpStartsWith = "STARTSWITH"
	OpEndsWith   = "ENDSWITH"
	OpIn         = "IN"
	OpNotIn      = "NOTIN"
	OpMatches    = "MATCHES"
)

// Operator is a condition operator, resolved from its name once: it
// indexes Operators, and the membership engine switches on it when it
// matches values.
type Operator uint8

// The operators, in the order messages list them.
const (
	OperatorEquals Operator = iota
	OperatorNotEquals
	OperatorContains
	OperatorStartsWith
	OperatorEndsWith
	OperatorIn
	OperatorNotIn
	OperatorMatches
	numOperators
)

// OperatorInfo is what validation and matching need to know of an
// operator besides what it tests.
type OperatorInfo struct {
	Name string // as Condition.operator spells it
	// List operators take a comma-separated list of values.
	List bool
	// Pattern operators take a regular expression (see CompilePattern).
	Pattern bool
	// Scope operators may also be a Tag condition's scope_operator.
	Scope bool
	// A Negative operator holds where Positive does not. Matching tags
	// needs the pair: a negative tag condition means "no tag matches",
	// not "some tag does not".
	Negative bool
	Positive Operator
}

// Operators is the operator table, indexed by Operator.
var Operators = [numOperators]OperatorInfo{
	OperatorEquals:     {Name: OpEquals, Scope: true},
	OperatorNotEquals:  {Name: OpNotEquals, Scope: true, Negative: true, Positive: OperatorEquals},
	OperatorContains:   {Name: OpContains},
	OperatorStartsWith: {Name: OpStartsWith},
	OperatorEndsWith:   {Name: OpEndsWith},
	OperatorIn:         {Name: OpIn, List: true},
	OperatorNotIn:      {Name: OpNotIn, List: true, Negative: true, Positive: OperatorIn},
	OperatorMatches:    {Name: OpMatches, Pattern: true},
}

func (o Operator) String() string { return Operators[o].Name }

// LookupOperator resolves an operator's name.
func LookupOperator(name string) (Operator, bool) {
	for o := range Operators {
		if Operators[o].Name == name {
			return Operator(o), true
		}
	}
	return 0, false
}

// ValueForm is what a condition's value is, and so how validation checks
// it.
type ValueForm uint8

const (
	// ValueText is compared with the attribute the key names: a
	// comma-separated list for List operators, a regular expression for
	// Pattern ones, otherwise a non-empty string.
	ValueText ValueForm = iota
	// ValueTag is "scope|tag": "|tag" matches the tag under any scope,
	// "scope|" any tag under the scope.
	ValueTag
	// ValueClusters names clusters; NSX takes at most 5 names, without
	// spaces, in an IN.
	ValueClusters
	// ValueAll is MATCHES "*" and nothing else: the condition selects every
	// object of its type (NSX allows nothing finer for nodes), so it takes
	// no second condition of its type and no KubernetesNamespace one.
	ValueAll
)

// KeyRule is a key a member type's conditions may use, and what they may
// do with it.
type KeyRule struct {
	Key   string
	Value ValueForm
	// Operators the key takes, in the order messages list them.
	Operators []Operator
	// ScopeOperators a ValueTag key takes as scope_operator.
	ScopeOperators []Operator
	// Endpoint is set on every key of a type whose objects are members in
	// several ways, one per key, each listed at its own NSX members
	// endpoint: a KubernetesNode is a member for its InternalIPs under
	// IPAddress and, apart, for its pod CIDRs under PodCidr.
	Endpoint string
}

// MemberType is a Condition.member_type kordon evaluates.
type MemberType struct {
	Name string
	// Kubernetes types come from clusters' inventory: a criterion cannot
	// mix them with the others, and groups using them must be in the
	// default domain and need a firewall license entitlement.
	Kubernetes bool
	// InProjects types may be used by a project's groups. Kubernetes
	// inventory is not exposed to projects.
	InProjects bool
	// Scoping types (KubernetesCluster, KubernetesNamespace) narrow a
	// criterion by AND and select nothing alone. The others are resource
	// types: a criterion selects objects of one of them.
	Scoping bool
	// Namespaced resource types can be narrowed by KubernetesNamespace.
	Namespaced bool
	// Inventory is the inventory kind (inventory.Kind) of a resource
	// type's objects; "" for scoping types.
	Inventory string
	// Endpoint is the NSX members endpoint (.../groups/{id}/members/
	// <Endpoint>) that lists a resource type's members; "" when there is
	// none or when its keys name one each (KeyRule.Endpoint).
	Endpoint string
	// Keys the type's conditions may use, in the order messages list them.
	Keys []KeyRule
}

// allOperators lists every operator, in table order.
var allOperators = func() []Operator {
	out := make([]Operator, numOperators)
	for i := range out {
		out[i] = Operator(i)
	}
	return out
}()

var (
	equalsOnly      = []Operator{OperatorEquals}
	nameKey         = KeyRule{Key: KeyName, Value: ValueText, Operators: allOperators}
	kubernetesTag   = KeyRule{Key: KeyTag, Value: ValueTag, Operators: equalsOnly, ScopeOperators: equalsOnly}
	kubernetesNamed = []KeyRule{nameKey, kubernetesTag}
)

// MemberTypes is the member-type table, in the order messages list the
// types.
var MemberTypes = []MemberType{
	{Name: MemberKubernetesCluster, Kubernetes: true, Scoping: true, Keys: []KeyRule{
		{Key: KeyName, Value: ValueClusters, Operators: []Operator{OperatorEquals, OperatorIn, OperatorStartsWith, OperatorEndsWith}}}},
	{Name: MemberKubernetesNamespace, Kubernetes: true, Scoping: true, Keys: kubernetesNamed},
	{Name: MemberKubernetesService, Kubernetes: true, Namespaced: true, Inventory: "Service", Endpoint: MembersKubernetesServices, Keys: kubernetesNamed},
	{Name: MemberKubernetesIngress, Kubernetes: true, Namespaced: true, Inventory: "Ingress", Endpoint: MembersKubernetesIngresses, Keys: kubernetesNamed},
	{Name: MemberKubernetesGateway, Kubernetes: true, Namespaced: true, Inventory: "Gateway", Endpoint: MembersKubernetesGateways, Keys: kubernetesNamed},
	{Name: MemberKubernetesNode, Kubernetes: true, Inventory: "Node", Keys: []KeyRule{
		{Key: KeyIPAddress, Value: ValueAll, Operators: []Operator{OperatorMatches}, Endpoint: MembersKubernetesNodeIPs},
		{Key: KeyPodCidr, Value: ValueAll, Operators: []Operator{OperatorMatches}, Endpoint: MembersKubernetesNodePodCIDR}}},
	{Name: MemberAntreaEgress, Kubernetes: true, Inventory: "Egress", Endpoint: MembersAntreaEgresses, Keys: kubernetesNamed},
	{Name: MemberAntreaIPPool, Kubernetes: true, Inventory: "IPPool", Endpoint: MembersAntreaIPPools, Keys: kubernetesNamed},
	{Name: MemberVirtualMachine, InProjects: true, Inventory: "VirtualMachine", Keys: []KeyRule{
		nameKey,
		{Key: KeyTag, Value: ValueTag, ScopeOperators: []Operator{OperatorEquals, OperatorNotEquals},
			Operators: []Operator{OperatorEquals, OperatorNotEquals, OperatorContains, OperatorStartsWith, OperatorEndsWith, OperatorMatches}},
		{Key: KeyOSName, Value: ValueText, Operators: allOperators},
		{Key: KeyComputerName, Value: ValueText, Operators: allOperators}}},
}

// unsupportedMemberTypes are member types NSX defines that kordon has no
// inventory for; validation names them as such rather than as typos. A
// type moves from here to MemberTypes when kordon learns it.
var unsupportedMemberTypes = map[string]bool{
	"IPSet": true, "LogicalPort": true, "LogicalSwitch": true, "Segment": true,
	"SegmentPort": true, "Pod": true, "Service": true, "Namespace": true,
	"TransportNode": true, "Group": true, "DVPG": true, "DVPort": true,
	"IPAddress": true, "VpcSubnet": true, "VpcSubnetPort": true,
	"BareMetalServer": true, "BareMetalServerInterface": true, "Tier0": true, "Tier1": true,
}

var memberTypeByName = func() map[string]*MemberType {
	m := make(map[string]*MemberType, len(MemberTypes))
	for i := range MemberTypes {
		m[MemberTypes[i].Name] = &MemberTypes[i]
	}
	return m
}()

// LookupMemberType finds a member type by name (exactly, as NSX does).
func LookupMemberType(name string) (*MemberType, bool) {
	t, ok := memberTypeByName[name]
	return t, ok
}

// IsKubernetesMemberType reports whether t is one of the Kubernetes member
// types (including the Cluster and Namespace scoping types).
func IsKubernetesMemberType(t string) bool {
	mt, ok := LookupMemberType(t)
	return ok && mt.Kubernetes
}

// Rule returns the rule of one of the type's keys.
func (t *MemberType) Rule(key string) (*KeyRule, bool) {
	for i := range t.Keys {
		if t.Keys[i].Key == key {
			return &t.Keys[i], true
		}
	}
	return nil, false
}

// byKey reports whether the type's keys say what its objects are members
// for (KeyRule.Endpoint), so that conditions under different keys select
// different members.
func (t *MemberType) byKey() bool {
	return slices.ContainsFunc(t.Keys, func(k KeyRule) bool { return k.Endpoint != "" })
}

// SelectsAll reports whether every condition of the type selects all its
// objects (every key is ValueAll).
func (t *MemberType) SelectsAll() bool {
	return len(t.Keys) > 0 && !slices.ContainsFunc(t.Keys, func(k KeyRule) bool { return k.Value != ValueAll })
}

func (t *MemberType) keyNames() []string {
	out := make([]string, len(t.Keys))
	for i, k := range t.Keys {
		out[i] = k.Key
	}
	return out
}

// MemberKind is one way inventory objects are members of groups: as
// objects of a resource member type and, for a type whose keys say what
// its objects are members for, under one of those keys.
type MemberKind struct {
	Type     *MemberType
	Key      string // "" unless the type's keys name one kind each
	Endpoint string // the NSX members endpoint listing them, or ""
}

// MemberKinds lists the member kinds in table order.
func MemberKinds() []MemberKind {
	var out []MemberKind
	for i := range MemberTypes {
		t := &MemberTypes[i]
		switch {
		case t.Scoping:
		case t.byKey():
			for _, k := range t.Keys {
				out = append(out, MemberKind{Type: t, Key: k.Key, Endpoint: k.Endpoint})
			}
		default:
			out = append(out, MemberKind{Type: t, Endpoint: t.Endpoint})
		}
	}
	return out
}

// MemberEndpoints lists the NSX member endpoint names, in table order.
var MemberEndpoints = func() []string {
	var out []string
	for _, k := range MemberKinds() {
		if k.Endpoint != "" {
			out = append(out, k.Endpoint)
		}
	}
	return out
}()

// IsMemberEndpoint reports whether name is an NSX members endpoint.
func IsMemberEndpoint(name string) bool { return slices.Contains(MemberEndpoints, name) }

// typeNames lists the names of the member types that pass keep, in table
// order.
func typeNames(keep func(*MemberType) bool) []string {
	var out []string
	for i := range MemberTypes {
		if keep(&MemberTypes[i]) {
			out = append(out, MemberTypes[i].Name)
		}
	}
	return out
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func operatorNames(ops []Operator) []string {
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.String()
	}
	return out
}
