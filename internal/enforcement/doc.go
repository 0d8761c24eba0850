// Package enforcement owns the agent that runs on an enforcement point (a
// VM, or a host routing for a gateway): it follows the point's span from
// the manager, is the single writer of the nftables table that enforces
// it (through enforcement/nft), keeps enforcing what it has when the
// manager cannot be reached, and reports its realization state, counters
// and, on a VM, the VM's addresses.
package enforcement
