package nft

import (
	"context"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/examples"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// exampleConfig loads the example policy and inventory, as the demo does.
func exampleConfig(t testing.TB) (*model.Config, *membership.Index) {
	t.Helper()
	docs, err := model.ParseDocument("policy.yaml", examples.Policy())
	if err != nil {
		t.Fatal(err)
	}
	cfg := model.NewConfig()
	for _, d := range docs {
		if cfg, _, err = cfg.Apply("", d); err != nil {
			t.Fatal(err)
		}
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	dump, err := examples.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	idx := membership.New()
	if err := idx.Load(dump.Objects, cfg.Groups); err != nil {
		t.Fatal(err)
	}
	return cfg, idx
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the generated ruleset (go test -update rewrites it):\n%s", p, got)
	}
}

// fakeApply runs a transaction on a fake nftables and returns its dump.
func fakeApply(t *testing.T, fake *knftables.Fake, fill func(tx *knftables.Transaction)) string {
	t.Helper()
	tx := fake.NewTransaction()
	fill(tx)
	if err := fake.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	return fake.Dump()
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }
