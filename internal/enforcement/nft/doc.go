// Package nft owns kordon's nftables ruleset: it turns a realization.Span
// into one private table (a static skeleton of hooks and chains, rules in
// first-match order, named sets for the addresses each rule names), into
// the knftables transaction that installs it, and a span delta into
// element additions and removals. It also traces a flow through the
// program it generates, so tests can hold the generated ruleset to the
// policy evaluator's verdicts.
//
// A packet should not pay for every rule: a long chain whose rules differ
// by their groups looks the packet's source or destination address up in
// a class map (an exact-match map of single addresses and an interval
// map of ranges), which goes to the chain of the address's class (the
// addresses in the same sets) holding only the rules they can match
// (class.go); long runs of rules that differ by service are dispatched on
// protocol and port (dispatch.go). Classes follow members: a membership
// change that keeps the classes changes class-map elements, computed
// where the addresses changed, and one that makes or ends a class
// replaces the table.
//
// Nothing else in kordon writes nftables: the agent (package enforcement)
// names the table to use and hands this package the spans, and each
// transaction's text is logged at debug level (Applier.SetLogger).
//
// Whole tables go through knftables (the nft command). Element changes
// go there too, or, for the kernel's nftables as root on Linux, straight
// to the kernel as one netlink batch (github.com/google/nftables):
// nft reads the whole table back for each transaction, which costs
// hundreds of milliseconds at 10,000 rules (Applier.UseNetlink).
package nft
