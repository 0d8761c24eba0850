// Package apiserver owns kordon's HTTP API: the NSX Policy API shapes
// under /policy/api/v1 (objects, lists with cursor paging, the
// hierarchical PATCH of /infra, effective members per member type,
// projects), kordon's extensions under /policy/api/v1/kordon (explain,
// the watch stream, license, tokens, clusters), external dynamic lists
// under /edl/v1, and /healthz, /readyz and /metrics. Handlers decode,
// call the manager and encode; errors take NSX's error shape.
package apiserver
