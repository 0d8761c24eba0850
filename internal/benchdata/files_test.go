package benchdata

import (
	"os"
	"testing"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

// TestWriteFiles checks, on two clusters, that the written dump loads
// back into the objects of Inventory (the Egresses' pod selectors
// aside) and the policies into their groups and rules.
//
// With KORDON_SCALE_FILES=DIR it writes the full scale there instead,
// for measuring the commands by hand:
//
//	KORDON_SCALE_FILES=/tmp/scale go test ./internal/benchdata -run WriteFiles -timeout 20m
func TestWriteFiles(t *testing.T) {
	s, dir := Full, os.Getenv("KORDON_SCALE_FILES")
	if dir == "" {
		s.Clusters, dir = 2, t.TempDir()
	}
	f, err := s.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := inventory.LoadDir(f.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Problems) > 0 || d.Ignored > 0 {
		t.Fatalf("problems %v, ignored %d", d.Problems[:min(3, len(d.Problems))], d.Ignored)
	}
	want := map[inventory.Key]bool{}
	for _, o := range s.Inventory() {
		want[inventory.KeyOf(o)] = true
	}
	if len(d.Objects) != len(want) || len(d.Objects) != f.Objects {
		t.Fatalf("%d objects loaded, want %d (%d written)", len(d.Objects), len(want), f.Objects)
	}
	for _, o := range d.Objects {
		if !want[inventory.KeyOf(o)] {
			t.Fatalf("unexpected object %v", inventory.KeyOf(o))
		}
	}
	for _, p := range []string{f.Policy, f.NewPolicy} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := model.ParseDocument(p, data)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := model.NewConfig().Apply("", docs[0])
		if err != nil {
			t.Fatal(err)
		}
		if errs := cfg.Validate(); len(errs) > 0 {
			t.Fatalf("%s: %v", p, errs[0])
		}
		if len(cfg.Groups) != len(s.Groups()) {
			t.Fatalf("%s: %d groups, want %d", p, len(cfg.Groups), len(s.Groups()))
		}
	}
}
