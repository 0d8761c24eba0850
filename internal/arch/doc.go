// Package arch holds kordon's import rules as a test (arch_test.go): the
// heavy dependencies (etcd, client-go, knftables) stay behind the one
// package that owns each, and the edge (adapter, agent, client, the wire
// contract) never reaches the manager, so the agent's binary links
// neither the manager nor etcd. It has no code of its own.
package arch
