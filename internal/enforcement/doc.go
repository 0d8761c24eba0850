// Package enforcement owns the agent that runs on an enforcement point (a
// VM, or a host routing for a gateway): it follows the point's span from
// the manager, is the single writer of the nftables table that enforces
// it (through enforcement/nft), keeps enforcing what it has when the
// manager cannot be reached, and reports its realization state, counters
// and, on a VM, the VM's addresses.
//
// The manager is an Upstream: over HTTPS with the agent's client
// certificate (HTTPUpstream, on internal/client), or a fake in tests.
// What the agent sends and reads is shaped by internal/wire. It never
// imports the manager, so the agent's binary (cmd/kordon-agent) links
// neither the manager nor etcd; internal/arch holds that.
package enforcement
