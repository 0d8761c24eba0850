package wire

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// Identity is whom a bundle speaks for.
type Identity string

// Identities a bundle is issued for.
const (
	ClusterIdentity Identity = "cluster"
	AgentIdentity   Identity = "agent"
)

// ReadBundle reads a bundle file (YAML or JSON) and checks it is a whole
// identity of the kind its reader needs: an agent given a cluster's
// bundle, or one missing its key, fails here, naming the file, rather
// than at its first TLS handshake.
func ReadBundle(path string, of Identity) (Bundle, error) {
	var b Bundle
	data, err := os.ReadFile(path)
	if err != nil {
		return b, err
	}
	if err := yaml.UnmarshalStrict(data, &b); err != nil {
		return b, fmt.Errorf("%s: %w", path, err)
	}
	switch of {
	case ClusterIdentity:
		if b.Cluster == "" || b.Server == "" || b.Cert == "" || b.Key == "" || b.CA == "" {
			return b, fmt.Errorf("%s: a cluster's bundle needs cluster, server, ca, cert and key (kordon cluster register --bundle-out writes one)", path)
		}
	case AgentIdentity:
		if b.Agent == "" || b.Server == "" || b.Cert == "" || b.Key == "" || b.CA == "" {
			return b, fmt.Errorf("%s: an agent's bundle needs agent, server, ca, cert and key (kordon agent register --bundle-out writes one)", path)
		}
	default:
		return b, fmt.Errorf("%s: no such identity as %q", path, of)
	}
	return b, nil
}
