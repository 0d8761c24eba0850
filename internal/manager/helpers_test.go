package manager

import (
	"net/netip"

	"github.com/kordon-dev/kordon/internal/pki"
)

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// testRing seals the CA of every test installation, so that managers
// opened again on a store (restarts, two managers) have its key.
var testRing = pki.KeyringForTest()
