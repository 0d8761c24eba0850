package model

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/textdoc"
)

// layeredDocs are hierarchical documents in the shapes the layered
// decoder reads itself or hands back to the strict decoder: whitespace,
// read-only wrapper fields, escapes, a null children list, wrong types,
// unknown fields, a service entry.
var layeredDocs = []string{
	`{"resource_type":"Infra","children":[]}`,
	`{ "children" : [ { "Domain" : { "id" : "default" , "children" : [ { "Group" : {"id":"g","description":""}, "resource_type" : "ChildGroup" } ] } , "resource_type":"ChildDomain", "path":"/x" } ] , "resource_type" : "Infra" , "_links" : [] }`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","children":[{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"p","rules":[{"id":"a"}],"children":[{"resource_type":"ChildRule","Rule":{"id":"r\"\\x","notes":""}}]}}]}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"d","children":null}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"d","children":[]}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"d"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","Group":{"id":"g"},"children":[]}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","Group":{"id":"g"},"target_type":"Domain"}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","Rule":{"id":"g"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","Group":{"id":"g","bogus":1}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"Child\u0047roup","Group":{"id":"g"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","marked_for_delete":true,"Group":{"id":"g"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","marked_for_delete":null,"Group":{"id":"g"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","id":5,"Group":{"id":"g"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"web","target_type":"Service","children":[{"resource_type":"ChildServiceEntry","ServiceEntry":{"resource_type":"EtherTypeServiceEntry","id":"x","ether_type":2048}}]}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"p"}}]}`,
	`{"resource_type":"Infra","chil\u0064ren":[]}`,
	`{"resource_type":"Infra","children":{}}`,
	`{"resource_type":"Infra","children":[5]}`,
	`{"resource_type":"Domain","id":"d"}`,
	// Keys encoding/json would match case-insensitively, read-only
	// fields inside objects, ids no path may hold, escapes where the
	// walker looks for keys and delimiters, numbers too large.
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","Marked_For_Delete":true,"Group":{"id":"g"}}]}`,
	`{"resource_type":"Infra","children":[{"RESOURCE_TYPE":"ChildGroup","Group":{"id":"g"}}]}`,
	`{"resource_type":"Infra","Children":[{"resource_type":"ChildGroup","Group":{"id":"g"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"d","Children":[]}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","group":{"id":"g"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","Group":{"id":"g","_revision":3,"marked_for_delete":true,"resource_type":"Service"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","id":"other","path":"/infra/domains/x/groups/y","Group":{"id":"../../g"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","Group":{"id":"g","description":"\"children\":[{\"}"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGro\u0075p","Group":{"id":"g"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"d","children":[{"resource_type":"ChildDomain","Domain":{"id":"e"}}]}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"d","children":[{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"p","sequence_number":1e400,"rules":null}}]}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"d","children":[{"resource_type":"ChildGatewayPolicy","GatewayPolicy":{"id":"p","rules":[{"id":"r","sequence_number":-0.5}],"children":[]}}]}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"d","target_type":"Domain","Group":{"id":"g"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","marked_for_delete" : false ,"Group":{"id":"g"}},{"resource_type":"ChildTier0","Tier0":{"id":"t","ha_mode":"ACTIVE_STANDBY"}}]}`,
	`{"resource_type":"Infra","id":"infra","children":[],"display_name":"\ud800"}`,
}

// TestLayeredMatchesStrict: whatever the layered decoder accepts, the
// strict decoder accepts too and decodes the same, with or without a
// cache (the cache only adds digests).
func TestLayeredMatchesStrict(t *testing.T) {
	docs := append([]string{basePolicyDoc, richDoc, validationBase}, layeredDocs...)
	docs = append(docs, fuzzDocSeeds...)
	for _, b := range derivedSeeds(t) {
		docs = append(docs, string(b))
	}
	cache := NewDecodeCache(4)
	for _, text := range docs {
		checkLayered(t, []byte(text), cache)
		checkLayered(t, []byte(text), cache) // from the cache this time
	}
}

// checkLayered compares the layered decoder with the strict one on every
// document of data.
func checkLayered(t *testing.T, data []byte, cache *DecodeCache) {
	t.Helper()
	split, _ := textdoc.Split("doc", data)
	for _, d := range split {
		strict, err := decodeDocumentStrict(d.JSON)
		for _, c := range []*DecodeCache{nil, cache} {
			got, ok := decodeInfraLayered(d.JSON, c, "")
			if !ok {
				continue
			}
			if err != nil {
				t.Fatalf("the layered decoder accepts what the strict one refuses (%v):\n%s", err, d.JSON)
			}
			clearSums(got.Children)
			if !reflect.DeepEqual(got, strict) {
				g, _ := json.Marshal(got)
				s, _ := json.Marshal(strict)
				t.Fatalf("layered and strict decoding differ:\n%s\n%s\nfrom %s", g, s, d.JSON)
			}
		}
	}
}

func clearSums(l ChildList) {
	for i := range l {
		l[i].Sum = Digest{}
		clearSums(l[i].Children)
		switch o := l[i].Object.(type) {
		case *Domain:
			clearSums(o.Children)
		case *SecurityPolicy:
			clearSums(o.Children)
		case *GatewayPolicy:
			clearSums(o.Children)
		}
	}
}

// TestDecodeCacheDigests: an object gets the digest of its own bytes, the
// same wherever it sits, and a container's leaves its children out.
func TestDecodeCacheDigests(t *testing.T) {
	c := NewDecodeCache(100)
	doc := func(groupValue, rule string) []byte {
		return []byte(`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"default","children":[
			{"resource_type":"ChildGroup","Group":{"id":"g","expression":[{"resource_type":"IPAddressExpression","ip_addresses":["` + groupValue + `"]}]}},
			{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"p","category":"Application","children":[{"resource_type":"ChildRule","Rule":` + rule + `}]}}]}}]}`)
	}
	parse := func(b []byte) (dom, group, pol, rule Child) {
		t.Helper()
		docs, err := c.ParseDocument("doc", b)
		if err != nil {
			t.Fatal(err)
		}
		dom = docs[0].Children[0]
		kids := dom.Object.(*Domain).Children
		pol = kids[1]
		return dom, kids[0], pol, pol.Object.(*SecurityPolicy).Children[0]
	}
	d1, g1, p1, r1 := parse(doc("10.0.0.1", `{"id":"r","action":"ALLOW"}`))
	d2, g2, p2, r2 := parse(doc("10.0.0.2", `{"id":"r","action":"ALLOW"}`))
	if d1.Sum != d2.Sum || p1.Sum != p2.Sum || r1.Sum != r2.Sum {
		t.Error("a container's or an unchanged object's digest changed with another object")
	}
	if g1.Sum == g2.Sum || g1.Sum == (Digest{}) {
		t.Error("a changed group kept its digest")
	}
	if r1.Object != r2.Object {
		t.Error("the same bytes were decoded again")
	}
	_, _, _, r3 := parse(doc("10.0.0.2", `{"id":"r","action":"DROP"}`))
	if r3.Sum == r2.Sum || r3.Object.(*Rule).Action != ActionDrop {
		t.Error("a changed rule came from the cache")
	}
	if _, err := c.ParseDocument("doc", doc("10.0.0.2", `{"id":"r","action":"ALLOW","bogus":1}`)); err == nil {
		t.Error("an unknown field was accepted")
	}
	// Spaces share nothing.
	docs, err := c.ParseChecked("dev", "doc", split(t, doc("10.0.0.2", `{"id":"r","action":"DROP"}`)))
	if err != nil {
		t.Fatal(err)
	}
	r4 := docs[0].Children[0].Object.(*Domain).Children[1].Object.(*SecurityPolicy).Children[0]
	if r4.Sum == r3.Sum || r4.Object == r3.Object {
		t.Error("another space's document came from the cache")
	}
}

// applyChanges is applyDocs, also returning every change made.
func applyChanges(t testing.TB, c *Config, project string, texts ...string) (*Config, []Change) {
	t.Helper()
	var all []Change
	for _, text := range texts {
		docs, err := ParseDocument("test.yaml", []byte(text))
		if err != nil {
			t.Fatalf("ParseDocument: %v\ninput:\n%s", err, text)
		}
		for _, d := range docs {
			next, changes, err := c.Apply(project, d)
			if err != nil {
				t.Fatalf("Apply(%q): %v\ninput:\n%s", project, err, text)
			}
			c, all = next, append(all, changes...)
		}
	}
	return c, all
}

// TestValidateChangeDeletions: deleting any one object of a valid
// configuration, ValidateChange finds what Validate finds (every object
// naming it): it knows every reference validation follows.
func TestValidateChangeDeletions(t *testing.T) {
	example, err := os.ReadFile("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	// richDoc is not valid (it holds what kordon refuses): not a base.
	for _, text := range []string{string(example), validationBase, basePolicyDoc} {
		base := configOf(t, text)
		if errs := base.Validate(); len(errs) > 0 {
			t.Fatalf("base invalid: %v", errs)
		}
		for _, p := range allPaths(base) {
			o, _ := base.Object(p)
			c := base.Clone()
			c.Remove(p)
			changes := []Change{{Op: OpDelete, Kind: o.Kind(), Path: p}}
			full, inc := c.Validate(), c.ValidateChange(changes)
			if !reflect.DeepEqual(full, inc) {
				t.Errorf("deleting %s: ValidateChange\n%v\nValidate\n%v", p, inc, full)
			}
			// Many changes take another way (see ValidateChange).
			for i := range 10 {
				changes = append(changes, Change{Op: OpDelete, Kind: KindGroup, Path: fmt.Sprintf("/infra/domains/default/groups/never-%d", i)})
			}
			if inc := c.ValidateChange(changes); !reflect.DeepEqual(full, inc) {
				t.Errorf("deleting %s among others: ValidateChange\n%v\nValidate\n%v", p, inc, full)
			}
			found += len(full)
		}
	}
	if found < 10 {
		t.Errorf("deletions made only %d problems: the test tests little", found)
	}
}

// TestParseChecked: for a document textdoc.Split accepts, it is
// ParseDocument.
func TestParseChecked(t *testing.T) {
	for _, text := range append([]string{basePolicyDoc}, layeredDocs...) {
		docs, errs := textdoc.Split("body", []byte(text))
		if len(errs) > 0 || len(docs) != 1 {
			continue
		}
		want, werr := ParseDocument("body", []byte(text))
		got, gerr := NewDecodeCache(8).ParseChecked("", "body", docs[0])
		if !reflect.DeepEqual(AsErrors(werr), AsErrors(gerr)) {
			t.Fatalf("errors differ for %s:\n%v\n%v", text, gerr, werr)
		}
		if werr == nil {
			for _, d := range got {
				clearSums(d.Children)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("documents differ for %s", text)
			}
		}
	}
}

// split is the one JSON document of data, as textdoc.Split gives it.
func split(t *testing.T, data []byte) textdoc.Document {
	t.Helper()
	docs, errs := textdoc.Split("doc", data)
	if len(errs) > 0 || len(docs) != 1 {
		t.Fatalf("split: %v", errs)
	}
	return docs[0]
}

// TestApplyWithStored: what stored vouches for is kept as it is, without
// a change; what it does not is compared.
func TestApplyWithStored(t *testing.T) {
	cache := NewDecodeCache(100)
	parse := func(text string) *Infra {
		t.Helper()
		docs, err := cache.ParseDocument("doc", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return docs[0]
	}
	group := func(id, addr string) string {
		return `{"resource_type":"ChildGroup","Group":{"id":"` + id + `","expression":[{"resource_type":"IPAddressExpression","ip_addresses":["` + addr + `"]}]}}`
	}
	doc := func(kids ...string) string {
		return `{"resource_type":"Infra","children":[` + strings.Join(kids, ",") + `]}`
	}
	dom := func(kids ...string) string {
		return `{"resource_type":"ChildDomain","Domain":{"id":"d","children":[` + strings.Join(kids, ",") + `]}}`
	}
	first, err := NewConfig().ApplyWith("", parse(doc(dom(group("a", "10.0.0.1"), group("b", "10.0.0.2")))), nil)
	if err != nil {
		t.Fatal(err)
	}
	vouched := first.Sums
	stored := func(p string, sum Digest) bool { return vouched[p] == sum }
	again, err := first.Config.ApplyWith("", parse(doc(dom(group("a", "10.0.0.1"), group("b", "10.0.0.3")))), stored)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) != 1 || again.Changes[0].Path != "/infra/domains/d/groups/b" || len(again.Changes[0].Fields) != 1 {
		t.Fatalf("changes %+v, want b's address", again.Changes)
	}
	if again.Config.Groups["/infra/domains/d/groups/a"] != first.Config.Groups["/infra/domains/d/groups/a"] {
		t.Error("an object stored as given was replaced")
	}
	if _, ok := again.Sums["/infra/domains/d/groups/a"]; ok {
		t.Error("a digest for an object not written")
	}
}
