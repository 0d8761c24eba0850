// Package manager owns kordon's running state: the policy configuration,
// projects, cluster inventory, memberships, enforcement agents, license
// and API tokens, all kept in the store and mirrored in memory by
// following the store's watch in revision order. Several managers on one
// etcd cluster therefore see the same state. Writes are validated against
// the latest configuration, committed as one conditioned transaction, and
// acknowledged only once applied, so a client reads its own writes. The
// manager publishes every configuration and membership change as a
// revisioned event stream.
//
// Identities: clusters and agents get client certificates from the
// installation's CA, whose key the store holds only sealed (bootstrap.go);
// their own keys are handed out once and never stored. What an agent
// reports is checked before it counts (vmaddrs.go, reports.go): what
// selects a VM into groups is the manager's, never the agent's.
//
// Spans (spans.go) flow from membership deltas: apply puts the element
// changes of a membership change into the published spans that read the
// group, with the delta from the span before, and an agent's long poll
// only reads what is published; what may change rules (configuration,
// agent records, a VM joining or leaving an Applied To group) retires
// spans, compiled again when first read.
//
// Concurrency: mu guards the state folded from the store (apply runs
// under its write lock, readers under Read); writeMu serialises this
// manager's configuration writes; spanMu guards the published and
// retired spans, which readers fill under the read lock; usedMu the
// tokens' last use; reportMu the report rate limits. A method whose name
// ends in Locked needs mu held.
//
// It serves no HTTP; the apiserver package exposes it.
package manager
