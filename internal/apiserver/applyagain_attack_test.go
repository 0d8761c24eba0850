package apiserver

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// deepArray is a JSON value nested depth levels deep: [[[...]]].
func deepArray(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// TestReadBodyRefusesNestingDeeperThanJSON: a body nested deeper than
// encoding/json allows (10,000) is refused before anything walks it, as
// it was before readBody took textdoc.CheckJSON's answer first: that
// check, on a document its one-pass scan is not sure of, walks it with a
// decoder and one Go frame per level, without a depth limit.
func TestReadBodyRefusesNestingDeeperThanJSON(t *testing.T) {
	for _, body := range []string{
		deepArray(10001),
		`{"resource_type":"Infra","children":` + deepArray(10000) + `}`,
	} {
		r := httptest.NewRequest("PATCH", "/policy/api/v1/infra", strings.NewReader(body))
		if _, err := readBody(r); err == nil {
			t.Fatalf("a body nested %d deep is accepted", strings.Count(body, "["))
		}
	}
}

// TestDeepBodyDoesNotCrash: a policy document body (up to 32 MiB, which
// a project principal may send) of nothing but '[' must be refused, not
// walked: walking it recursively overflows the goroutine stack, a fatal
// error that ends the manager. The child process lowers the stack limit
// so that a 2 MiB body shows what a 32 MiB one does at the default 1 GB.
func TestDeepBodyDoesNotCrash(t *testing.T) {
	if os.Getenv("KORDON_DEEP_BODY_CHILD") == "1" {
		debug.SetMaxStack(16 << 20)
		r := httptest.NewRequest("PATCH", "/policy/api/v1/infra", strings.NewReader(deepArray(1<<20)))
		if _, err := readBody(r); err == nil {
			t.Fatal("a body nested 1,048,576 deep is accepted")
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeepBodyDoesNotCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KORDON_DEEP_BODY_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := string(out)
		if i := strings.Index(msg, "\ngoroutine "); i > 0 {
			msg = msg[:i] // the stack dump is long
		}
		t.Fatalf("reading a deeply nested body: %v\n%s", err, msg)
	}
}

// TestApplyAgainServiceEntryAddedByReference: a document that writes a
// service and then, through a ChildResourceReference, adds an entry to
// it stores a service that its ChildService's bytes alone do not make.
// Sent again without the reference, the ChildService replaces the
// service (NSX PATCH): the entry must go, and the apply must say so.
func TestApplyAgainServiceEntryAddedByReference(t *testing.T) {
	a := newAPI(t, 0)
	const infra = "/policy/api/v1/infra"
	const svc = `{"resource_type":"ChildService","Service":{"id":"web","service_entries":[{"resource_type":"L4PortSetServiceEntry","id":"http","l4_protocol":"TCP","destination_ports":["80"]}]}}`
	const ssh = `{"resource_type":"ChildResourceReference","id":"web","target_type":"Service","children":[{"resource_type":"ChildServiceEntry","ServiceEntry":{"resource_type":"L4PortSetServiceEntry","id":"ssh","l4_protocol":"TCP","destination_ports":["22"]}}]}`
	a.applyDoc(infra, `{"resource_type":"Infra","children":[`+svc+`,`+ssh+`]}`)
	if out := a.expect("GET", infra+"/services/web", "", 200); !strings.Contains(out, `"ssh"`) {
		t.Fatalf("the first document's entry is missing: %s", out)
	}
	res := a.applyDoc(infra, `{"resource_type":"Infra","children":[`+svc+`]}`)
	if len(res.Changes) != 1 || res.Changes[0].Path != "/infra/services/web" {
		t.Fatalf("the service replaced without its ssh entry: changes %+v", res.Changes)
	}
	if out := a.expect("GET", infra+"/services/web", "", 200); strings.Contains(out, `"ssh"`) {
		t.Fatalf("the entry the document dropped is still stored (port 22 stays open): %s", out)
	}
}

// TestDryRunCursorOverflow: a cursor near the largest integer pages
// past the end (empty pages), never into a negative cursor.
func TestDryRunCursorOverflow(t *testing.T) {
	a := newAPI(t, 0)
	doc := groupsDoc(3, -1)
	p := a.applyDoc("/policy/api/v1/infra?dry_run=true&page_size=1000&cursor="+strconv.Itoa(int(^uint(0)>>1)), doc)
	if len(p.Changes) != 0 || len(p.Groups) != 0 || p.ResultCount != 3 {
		t.Fatalf("past the end: %+v", p)
	}
	if p.Cursor != "" {
		b, _ := json.Marshal(p)
		t.Fatalf("a page past the end gives a cursor: %s", b)
	}
}
