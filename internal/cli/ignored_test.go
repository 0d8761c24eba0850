package cli

import (
	"testing"

	"github.com/kordon-dev/kordon/internal/inventory"
)

// TestIgnoredSummary: what a dump held of kinds kordon does not keep is
// said in one line, most common kinds first, at most five by name.
func TestIgnoredSummary(t *testing.T) {
	d := &inventory.Dump{Ignored: 12, IgnoredFiles: []inventory.IgnoredFile{
		{Cluster: "a", File: "x.yaml", Count: 9, Kinds: []inventory.IgnoredKind{{Kind: "ConfigMap", Count: 3}, {Kind: "Deployment", Count: 6}}},
		{Cluster: "b", File: "y.yaml", Count: 3, Kinds: []inventory.IgnoredKind{{Kind: "ConfigMap", Count: 1}, {Kind: "A", Count: 1}, {Kind: "B", Count: 1}}},
	}}
	want := "ignored 12 objects of kinds kordon does not keep (6 Deployment, 4 ConfigMap, 1 A, 1 B)"
	if got := ignoredSummary(d); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
