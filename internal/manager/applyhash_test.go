package manager

import (
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/model"
)

// TestApplyAgainAcrossManagers: a document applied again is no change,
// until another manager writes one of its objects: then the object is
// compared again, not taken as what the document's bytes once made.
func TestApplyAgainAcrossManagers(t *testing.T) {
	st := openStore(t, t.TempDir())
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	a, b := start(t, st, c), start(t, st, c)
	cache := model.NewDecodeCache(100)
	parse := func(text string) *model.Infra {
		t.Helper()
		docs, err := cache.ParseDocument("test.yaml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return docs[0]
	}
	apply := func(e *env, text string) []model.Change {
		t.Helper()
		res, err := e.m.Apply(e.ctx, ApplyRequest{Doc: parse(text), User: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Changes
	}
	if ch := apply(a, groupsDoc); len(ch) == 0 {
		t.Fatal("first apply: no change")
	}
	if ch := apply(a, groupsDoc); len(ch) != 0 {
		t.Fatalf("applied again: %v", ch)
	}
	other := strings.Replace(groupsDoc, "172.16.0.0/24", "172.16.1.0/24", 1)
	if ch := apply(b, other); len(ch) != 1 || ch[0].Path != "/infra/domains/default/groups/vms" {
		t.Fatalf("the other manager's change: %v", ch)
	}
	if err := a.m.WaitApplied(a.ctx, b.m.Revision()); err != nil {
		t.Fatal(err)
	}
	ch := apply(a, groupsDoc)
	if len(ch) != 1 || ch[0].Path != "/infra/domains/default/groups/vms" || len(ch[0].Fields) != 1 {
		t.Fatalf("after the other manager's write: %v", ch)
	}
}
