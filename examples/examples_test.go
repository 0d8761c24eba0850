package examples

import (
	"testing"

	"github.com/kordon-dev/kordon/internal/model"
)

func TestEmbedded(t *testing.T) {
	d, err := Inventory()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Clusters) != 2 || len(d.Problems) != 0 || len(d.Objects) < 30 {
		t.Fatalf("clusters %v, %d objects, problems %v", d.Clusters, len(d.Objects), d.Problems)
	}
	docs, err := model.ParseDocument("policy.yaml", Policy())
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := model.NewConfig().Apply("", docs[0])
	if err != nil {
		t.Fatal(err)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
}
