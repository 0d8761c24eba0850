package apiserver

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// groupsDoc is a document of n IP groups g0..g(n-1) in the default
// domain, group i holding 10.0.<i>.0/24 (group changed: also
// 192.0.2.1).
func groupsDoc(n, changed int) string {
	var kids []string
	for i := range n {
		addrs := fmt.Sprintf(`"10.0.%d.0/24"`, i)
		if i == changed {
			addrs += `,"192.0.2.1"`
		}
		kids = append(kids, fmt.Sprintf(`{"resource_type":"ChildGroup","Group":{"id":"g%d","expression":[{"resource_type":"IPAddressExpression","ip_addresses":[%s]}]}}`, i, addrs))
	}
	return `{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","children":[` +
		strings.Join(kids, ",") + `]}]}`
}

type applyAnswer struct {
	Revision int64 `json:"revision"`
	Changes  []struct {
		Op     string            `json:"op"`
		Path   string            `json:"path"`
		Fields []json.RawMessage `json:"fields"`
	} `json:"changes"`
	Groups           []json.RawMessage `json:"group_changes"`
	ResultCount      int               `json:"result_count"`
	GroupChangeCount int               `json:"group_change_count"`
	Cursor           string            `json:"cursor"`
}

func (a *api) applyDoc(path, doc string) applyAnswer {
	a.t.Helper()
	var res applyAnswer
	if err := json.Unmarshal([]byte(a.expect("PATCH", path, doc, 200)), &res); err != nil {
		a.t.Fatal(err)
	}
	return res
}

// TestApplyAgain: a document sent again is no change and writes nothing;
// changed in one object, it changes that object with its fields; an
// object written since by other means is compared again; and bytes the
// manager has seen never stand for other bytes (an invalid object next to
// known ones is refused).
func TestApplyAgain(t *testing.T) {
	a := newAPI(t, 0)
	const infra = "/policy/api/v1/infra"
	if res := a.applyDoc(infra, groupsDoc(20, -1)); len(res.Changes) != 20 {
		t.Fatalf("first apply: %d changes, want 20", len(res.Changes))
	}
	rev := a.m.Revision()
	if res := a.applyDoc(infra, groupsDoc(20, -1)); len(res.Changes) != 0 || a.m.Revision() != rev {
		t.Fatalf("the same document again: %d changes, revision %d -> %d", len(res.Changes), rev, a.m.Revision())
	}
	res := a.applyDoc(infra, groupsDoc(20, 7))
	if len(res.Changes) != 1 || res.Changes[0].Path != "/infra/domains/default/groups/g7" || len(res.Changes[0].Fields) != 1 {
		t.Fatalf("one group changed: %+v", res.Changes)
	}
	// Changed back through the object's own route: the next document,
	// which gives g7 as the last one did, changes it again.
	a.expect("PATCH", groups+"/g7", `{"expression":[{"resource_type":"IPAddressExpression","ip_addresses":["10.0.7.0/24"]}]}`, 200)
	if res := a.applyDoc(infra, groupsDoc(20, 7)); len(res.Changes) != 1 || res.Changes[0].Path != "/infra/domains/default/groups/g7" {
		t.Fatalf("after a write by another route: %+v", res.Changes)
	}
	bad := strings.Replace(groupsDoc(20, 7), `"id":"g3",`, `"id":"g3","bogus":1,`, 1)
	rev = a.m.Revision()
	a.expect("PATCH", infra, bad, 400, `bogus`)
	bad = strings.Replace(groupsDoc(20, 7), `"10.0.3.0/24"`, `"10.0.3.0/33"`, 1)
	a.expect("PATCH", infra, bad, 400, `g3`)
	if a.m.Revision() != rev {
		t.Fatal("a refused document changed the store")
	}
}

// TestDryRunPages: the answer of a dry run comes in pages when asked,
// both lists cut at the same offsets, and the pages put together are the
// whole answer; paging a real apply is refused.
func TestDryRunPages(t *testing.T) {
	a := newAPI(t, 0)
	doc := groupsDoc(7, -1)
	whole := a.applyDoc("/policy/api/v1/infra?dry_run=true", doc)
	if len(whole.Changes) != 7 || len(whole.Groups) != 7 {
		t.Fatalf("dry run: %d changes, %d group changes", len(whole.Changes), len(whole.Groups))
	}
	var all applyAnswer
	cursor, pages := "", 0
	for {
		p := a.applyDoc("/policy/api/v1/infra?dry_run=true&page_size=3&cursor="+cursor, doc)
		pages++
		if p.ResultCount != 7 || p.GroupChangeCount != 7 || len(p.Changes) > 3 || len(p.Groups) > 3 {
			t.Fatalf("page %d: %+v", pages, p)
		}
		all.Changes, all.Groups = append(all.Changes, p.Changes...), append(all.Groups, p.Groups...)
		if cursor = p.Cursor; cursor == "" {
			break
		}
	}
	if pages != 3 || !reflect.DeepEqual(all.Changes, whole.Changes) || !reflect.DeepEqual(all.Groups, whole.Groups) {
		t.Fatalf("%d pages; put together they are not the whole answer", pages)
	}
	rev := a.m.Revision()
	a.expect("PATCH", "/policy/api/v1/infra?page_size=3", doc, 400, "dry run")
	a.expect("PATCH", "/policy/api/v1/infra?dry_run=true&page_size=0", doc, 400, "page_size")
	a.expect("PATCH", "/policy/api/v1/infra?dry_run=true&cursor=x", doc, 400, "cursor")
	if a.m.Revision() != rev {
		t.Fatal("a refused request changed the store")
	}
	code, _ := a.do(a.reader, "PATCH", "/policy/api/v1/infra?dry_run=true&page_size=3", doc)
	if code != 403 {
		t.Fatalf("a reader's paged dry run: %d, want 403", code)
	}
}
