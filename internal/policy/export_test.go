package policy

// NewRulesetForTest builds a ruleset from rules directly; JUMP_TO_APPLICATION
// continues at appStart. v6Only marks every rule IPv6-only (else both).
func NewRulesetForTest(rules []Rule, appStart int, v6Only bool) *Ruleset {
	for i := range rules {
		rules[i].v4, rules[i].v6 = !v6Only, true
	}
	return &Ruleset{Rules: rules, appStart: appStart}
}
