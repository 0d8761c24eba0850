// Package access owns kordon's authorization model: who a caller is (a
// Principal: an API token with its role and, for project roles, its
// project; a cluster's adapter; an enforcement agent) and the decision
// whether that principal may call a route, from the route's Rule alone.
//
// It is the one place that decision is made. The API's route table names
// a Rule per route; nothing else grants or refuses access. Identities only
// ever speak for themselves: a cluster may call only routes naming its own
// cluster, an agent only routes naming itself, a project role only routes
// of its own project (and the AnyToken routes, the node's version and
// search, whose handler answers it only with its project's objects).
package access
