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
// Concurrency: mu guards the state folded from the store (apply runs
// under its write lock, readers under Read); writeMu serialises this
// manager's configuration writes; spanMu and sentMu guard the span cache
// and the spans last sent; usedMu the tokens' last use; reportMu the
// report rate limits. A method whose name ends in Locked needs mu held.
//
// It serves no HTTP; the apiserver package exposes it.
package manager
