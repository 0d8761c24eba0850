package manager

import (
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/model"
)

// TestApplyAgainAfterEntryByReference: an apply remembers an object as
// what the document's bytes for it made only when nothing else in the
// document changed it after. A service given by a ChildService and then
// given one more entry by a ChildResourceReference is not what the
// ChildService's bytes make: a later document with only those bytes
// replaces it (NSX PATCH), and the entry goes.
func TestApplyAgainAfterEntryByReference(t *testing.T) {
	st := openStore(t, t.TempDir())
	e := start(t, st, &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)})
	cache := model.NewDecodeCache(100)
	const svc = `{"resource_type":"ChildService","Service":{"id":"web","service_entries":[{"resource_type":"L4PortSetServiceEntry","id":"http","l4_protocol":"TCP","destination_ports":["80"]}]}}`
	const ssh = `{"resource_type":"ChildResourceReference","id":"web","target_type":"Service","children":[{"resource_type":"ChildServiceEntry","ServiceEntry":{"resource_type":"L4PortSetServiceEntry","id":"ssh","l4_protocol":"TCP","destination_ports":["22"]}}]}`
	apply := func(text string) []model.Change {
		t.Helper()
		docs, err := cache.ParseDocument("test.json", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.m.Apply(e.ctx, ApplyRequest{Doc: docs[0], User: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Changes
	}
	apply(`{"resource_type":"Infra","children":[` + svc + `,` + ssh + `]}`)
	ch := apply(`{"resource_type":"Infra","children":[` + svc + `]}`)
	if len(ch) != 1 || ch[0].Path != "/infra/services/web" {
		t.Fatalf("the service given again without the entry: changes %v", ch)
	}
	var entries int
	e.m.Read(func(v View) { entries = len(v.Config().Services["/infra/services/web"].ServiceEntries) })
	if entries != 1 {
		t.Fatalf("the service has %d entries; the document gives 1", entries)
	}
}
