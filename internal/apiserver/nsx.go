package apiserver

import (
	"net/http"
)

// nsxVersion is the NSX version kordon reports on GET /api/v1/node/version.
// NSX clients decide which fields to send from it: the Terraform provider
// (vmware/terraform-provider-nsxt v3.11) reads node_version once when it is
// configured and compares it with hashicorp/go-version. Of what kordon
// serves, nsxt_policy_group sends and reads group_type only from 3.2.0, the
// search-based data sources assume the search API of 3.0.0 and later, and
// Kubernetes member types and projects are NSX 4.1 features; no check of
// the group, service, security and gateway policy resources or of search
// asks for more than 3.2.0. 4.2.0 is what kordon's shapes follow (the
// notes it was built from are on NSX 4.1 and 4.2); from 9.0.0 the provider
// would send VPC fields to projects, which kordon does not model. Only
// digits and dots: a suffix go-version cannot parse would make every check
// fail.
const nsxVersion = "4.2.0.0.0.0"

// nodeVersion is NSX's GET /api/v1/node/version: the shape NSX answers,
// with the version kordon speaks (nsxVersion).
func (s *Server) nodeVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"node_version": nsxVersion, "product_version": nsxVersion})
}
