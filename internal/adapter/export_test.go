package adapter

import "k8s.io/apimachinery/pkg/runtime/schema"

// CRDListKinds names the list kind of every CRD version the adapter may
// watch: client-go's fake dynamic client must be told them.
func CRDListKinds() map[schema.GroupVersionResource]string {
	out := map[schema.GroupVersionResource]string{}
	for _, ck := range crdKinds {
		kind := map[string]string{"gateways": "Gateway", "egresses": "Egress", "externalippools": "ExternalIPPool", "ippools": "IPPool"}[ck.resource]
		for _, v := range ck.versions {
			out[ck.gvr(v)] = kind + "List"
		}
	}
	return out
}

// Snapshot is what the adapter's caches hold, by object id: what the
// manager must hold once it is synchronised.
func (a *Adapter) Snapshot() map[string][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.snapshotLocked()
}

// Object builders of the package's tests, for its external tests too.
var (
	TestNode      = node
	TestLBService = lbService
	TestUnstr     = unstr
	TestEgress    = egress
)
