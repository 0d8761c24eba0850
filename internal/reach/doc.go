// Package reach owns the exact analysis of a compiled ruleset: which rules
// can never be the first to match a flow (shadowed), and which decide
// flows that later rules would decide the same way (redundant). It backs
// `kordon advise`.
//
// Advice that removes a rule must never change a verdict, so the answer
// is exact, not sampled or approximated: rules are turned into regions of
// flow space (unions of disjoint boxes: source, destination, protocol,
// source port, destination port, per address family) and
// policy.Ruleset.Evaluate is followed over whole regions instead of
// single flows. The flow space is the flows real traffic carries (see
// family.universe), so a rule is not kept alive by flows no packet has.
// Rules seldom overlap, so the walk and the checks after it look up, in
// an index per dimension, only the rules that may meet a box (index.go),
// and test those exactly.
//
// Exactness can cost a lot on rulesets whose rules cut each other into
// many pieces; past a work budget the analysis gives up with
// ErrTooComplex rather than guess.
package reach
