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
// One file, one concern: manager.go (the Manager, Run, waiting for a
// revision), state.go (the key table that folds the store into the state,
// for a load and for each watched revision alike), write.go (validated
// configuration writes), projects.go, tokens.go, license.go,
// identities.go (certificates shared by clusters and agents), clusters.go
// (registration, heartbeats, status), inventory.go (clusters' inventory
// writes and quotas), agents.go and reports.go (agents and what they
// report), vmaddrs.go (which addresses count for a VM), spans.go,
// events.go (the event stream), budget.go (what an identity may make the
// store keep), read.go (consistent views for readers), bootstrap.go (the
// installation: CA, seal, first admin token).
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
// Concurrency: mu guards the state folded from the store and what is
// derived from it (apply runs under its write lock, one revision at a
// time; readers under Read, or a View); a load folds a new state outside
// the lock and swaps it in. writeMu serialises this manager's
// configuration, project and token writes (each is also conditioned in
// the store, so several managers are safe). spanMu guards the published
// and retired spans, which readers fill under the read lock; usedMu the
// tokens' last use; reportMu the report rate limits; the write budgets
// have their own. Locks are taken in that order (mu before spanMu), never
// the other way. A method whose name ends in Locked needs mu held.
//
// It serves no HTTP; the apiserver package exposes it.
package manager
