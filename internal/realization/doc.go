// Package realization owns the desired state of one enforcement point,
// its span: the ordered rules that apply there (per hook: the gateway's
// forwarded traffic, or a VM's traffic in and out) and the address sets
// they name, as plain values an agent can render without the manager's
// model. It also diffs two spans into set element changes, so that a
// membership change travels and is applied as element additions and
// removals, and a change of rules as a new snapshot.
//
// It does not know nftables (enforcement/nft does) nor how spans are
// transported (apiserver and enforcement do).
package realization
