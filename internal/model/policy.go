package model

// DFW (security policy) categories, in evaluation order. Ethernet holds
// layer-2 rules and is skipped for layer-3 flows; an empty category sorts
// after Application.
const (
	CategoryEthernet       = "Ethernet"
	CategoryEmergency      = "Emergency"
	CategoryInfrastructure = "Infrastructure"
	CategoryEnvironment    = "Environment"
	CategoryApplication    = "Application"
)

// GFW (gateway policy) categories, in evaluation order.
const (
	CategorySystemRules       = "SystemRules"
	CategorySharedPreRules    = "SharedPreRules"
	CategoryLocalGatewayRules = "LocalGatewayRules"
	CategoryAutoServiceRules  = "AutoServiceRules"
	CategoryDefault           = "Default"
)

// DFWCategories and GFWCategories list the categories in evaluation order.
var (
	DFWCategories = []string{CategoryEthernet, CategoryEmergency, CategoryInfrastructure, CategoryEnvironment, CategoryApplication}
	GFWCategories = []string{CategoryEmergency, CategorySystemRules, CategorySharedPreRules, CategoryLocalGatewayRules, CategoryAutoServiceRules, CategoryDefault}
)

// Rule actions.
const (
	ActionAllow             = "ALLOW"
	ActionDrop              = "DROP"
	ActionReject            = "REJECT"
	ActionJumpToApplication = "JUMP_TO_APPLICATION"
)

// Rule directions, relative to the protected VM (DFW) or gateway (GFW).
const (
	DirectionIn    = "IN"
	DirectionOut   = "OUT"
	DirectionInOut = "IN_OUT"
)

// Rule IP protocols (address families).
const (
	IPProtocolV4   = "IPV4"
	IPProtocolV6   = "IPV6"
	IPProtocolBoth = "IPV4_IPV6"
)

// Connectivity preferences of a security policy: ALLOWLIST adds a drop
// rule at the end of the policy, DENYLIST an allow rule.
const (
	ConnectivityAllowList              = "ALLOWLIST"
	ConnectivityDenyList               = "DENYLIST"
	ConnectivityAllowListLogging       = "ALLOWLIST_ENABLE_LOGGING"
	ConnectivityDenyListLogging        = "DENYLIST_ENABLE_LOGGING"
	ConnectivityNone                   = "NONE"
	DefaultLayer3SectionID             = "default-layer3-section"
	DefaultLayer3RuleID                = "default-layer3-rule"
	anyKeyword                         = "ANY"
	maxListEntries                     = 128
	maxPolicySequenceNumber      int64 = 999999
)

// Any is the NSX keyword for "everything" in source, destination, service
// and scope lists.
const Any = anyKeyword

// Policy holds what security and gateway policies share.
type Policy struct {
	Meta
	Category               string    `json:"category,omitempty"`
	SequenceNumber         int64     `json:"sequence_number"`
	Scope                  []string  `json:"scope,omitempty"`
	Stateful               *bool     `json:"stateful,omitempty"`
	TCPStrict              *bool     `json:"tcp_strict,omitempty"`
	Locked                 bool      `json:"locked"`
	Comments               string    `json:"comments,omitempty"`
	SchedulerPath          string    `json:"scheduler_path,omitempty"`
	InternalSequenceNumber int64     `json:"internal_sequence_number,omitempty"`
	IsDefault              bool      `json:"is_default,omitempty"`
	RuleCount              int       `json:"rule_count,omitempty"`
	LockModifiedBy         string    `json:"lock_modified_by,omitempty"`
	LockModifiedTime       int64     `json:"lock_modified_time,omitempty"`
	LoggingEnabled         bool      `json:"logging_enabled,omitempty"`
	Rules                  []*Rule   `json:"rules,omitempty"`
	Children               ChildList `json:"children,omitempty"`
}

// SecurityPolicy is a distributed firewall (DFW) policy.
type SecurityPolicy struct {
	Policy
	ConnectivityPreference string `json:"connectivity_preference,omitempty"`
	ConnectivityStrategy   string `json:"connectivity_strategy,omitempty"`
	DefaultRuleID          int64  `json:"default_rule_id,omitempty"`
}

// Kind implements Object.
func (*SecurityPolicy) Kind() Kind { return KindSecurityPolicy }

// UnmarshalJSON decodes strictly.
func (p *SecurityPolicy) UnmarshalJSON(b []byte) error {
	type plain SecurityPolicy
	_, empty, err := unmarshalObject(b, (*plain)(p), false, policyText)
	p.EmptyText = empty
	return err
}

// MarshalJSON writes the empty text fields the policy was given.
func (p SecurityPolicy) MarshalJSON() ([]byte, error) {
	type plain SecurityPolicy
	return marshalObject(plain(p), p.EmptyText, nil)
}

// GatewayPolicy is a gateway firewall (GFW) policy.
type GatewayPolicy struct {
	Policy
}

// Kind implements Object.
func (*GatewayPolicy) Kind() Kind { return KindGatewayPolicy }

// UnmarshalJSON decodes strictly.
func (p *GatewayPolicy) UnmarshalJSON(b []byte) error {
	type plain GatewayPolicy
	_, empty, err := unmarshalObject(b, (*plain)(p), false, policyText)
	p.EmptyText = empty
	return err
}

// MarshalJSON writes the empty text fields the policy was given.
func (p GatewayPolicy) MarshalJSON() ([]byte, error) {
	type plain GatewayPolicy
	return marshalObject(plain(p), p.EmptyText, nil)
}

// Rule is a firewall rule of a security or gateway policy.
type Rule struct {
	Meta
	Action               string           `json:"action,omitempty"`
	SourceGroups         []string         `json:"source_groups,omitempty"`
	DestinationGroups    []string         `json:"destination_groups,omitempty"`
	SourcesExcluded      bool             `json:"sources_excluded"`
	DestinationsExcluded bool             `json:"destinations_excluded"`
	Services             []string         `json:"services,omitempty"`
	ServiceEntries       ServiceEntryList `json:"service_entries,omitempty"`
	Scope                []string         `json:"scope,omitempty"`
	Profiles             []string         `json:"profiles,omitempty"`
	Direction            string           `json:"direction,omitempty"`
	IPProtocol           string           `json:"ip_protocol,omitempty"`
	Logged               bool             `json:"logged"`
	Disabled             bool             `json:"disabled"`
	Notes                string           `json:"notes,omitempty"`
	Tag                  string           `json:"tag,omitempty"`
	SequenceNumber       int64            `json:"sequence_number"`
	RuleID               int64            `json:"rule_id,omitempty"`
	IsDefault            bool             `json:"is_default,omitempty"`
}

// Kind implements Object.
func (*Rule) Kind() Kind { return KindRule }

// UnmarshalJSON decodes strictly.
func (r *Rule) UnmarshalJSON(b []byte) error {
	type plain Rule
	_, empty, err := unmarshalObject(b, (*plain)(r), false, ruleText)
	r.EmptyText = empty
	return err
}

// MarshalJSON writes the empty text fields the rule was given.
func (r Rule) MarshalJSON() ([]byte, error) {
	type plain Rule
	return marshalObject(plain(r), r.EmptyText, nil)
}

// EffectiveAction returns the action with NSX's default (ALLOW).
func (r *Rule) EffectiveAction() string {
	if r.Action == "" {
		return ActionAllow
	}
	return r.Action
}

// EffectiveDirection returns the direction with NSX's default (IN_OUT).
func (r *Rule) EffectiveDirection() string {
	if r.Direction == "" {
		return DirectionInOut
	}
	return r.Direction
}

// EffectiveIPProtocol returns the address family with NSX's default.
func (r *Rule) EffectiveIPProtocol() string {
	if r.IPProtocol == "" {
		return IPProtocolBoth
	}
	return r.IPProtocol
}

// IsAny reports whether a source, destination, service or scope list means
// "any": empty, or the single keyword ANY (case-insensitive).
func IsAny(list []string) bool {
	return len(list) == 0 || (len(list) == 1 && equalFold(list[0], anyKeyword))
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
