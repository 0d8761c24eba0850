// Package manager owns kordon's running state: the policy configuration,
// projects, cluster inventory, memberships, license and API tokens, all
// kept in the store and mirrored in memory by following the store's watch
// in revision order. Several managers on one etcd cluster therefore see
// the same state. Writes are validated against the latest configuration,
// committed as one conditioned transaction, and acknowledged only once
// applied, so a client reads its own writes. The manager publishes every
// configuration and membership change as a revisioned event stream.
//
// It serves no HTTP; the apiserver package exposes it.
package manager
