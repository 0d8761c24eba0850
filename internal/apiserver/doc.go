// Package apiserver owns kordon's HTTP API: the NSX Policy API shapes
// under /policy/api/v1 (objects, lists with cursor paging and sorting, the
// hierarchical PATCH of /infra, effective members per member type,
// projects, search with a Lucene subset), what NSX clients ask besides
// (/api/v1/node/version; /api/session/create, refused: no sessions),
// kordon's extensions under /policy/api/v1/kordon (explain,
// trace, advice, the watch stream, license, tokens, clusters, agents),
// external dynamic lists under /edl/v1, and /healthz, /readyz and
// /metrics.
//
// Every route is declared once, in routes.go, as a ServeMux pattern with
// the access rule it needs and its limits; handle wraps each handler with
// authentication, the access decision (package access), the body limit
// and deadlines, and the heavy-read limiter, so no request reaches a
// handler its route did not approve. Handlers decode, call the manager and
// encode; errors take NSX's error shape.
package apiserver
