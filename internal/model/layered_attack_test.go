package model

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// deepRefs is an Infra document whose children nest n
// ChildResourceReferences deep (2n+2 JSON levels), the last holding leaf.
func deepRefs(n int, leaf string) []byte {
	open := `{"resource_type":"ChildResourceReference","id":"d","target_type":"Domain","children":[`
	return []byte(`{"resource_type":"Infra","children":[` + strings.Repeat(open, n) + leaf + strings.Repeat("]}", n) + "]}")
}

// TestLayeredRefusesDeeperThanStrict: the layered decoder walks the
// containers by hand, without encoding/json's nesting limit (10,000);
// it must not accept a document the strict decoder refuses for its
// depth (nor recurse once per level of a document of any depth).
func TestLayeredRefusesDeeperThanStrict(t *testing.T) {
	const group = `{"resource_type":"ChildGroup","Group":{"id":"g"}}`            // 2 levels
	const tagged = `{"resource_type":"ChildGroup","Group":{"id":"g","tags":[]}}` // 3 levels
	for _, tt := range []struct {
		doc   []byte
		depth int
	}{
		{deepRefs(5001, ""), 10004},
		{deepRefs(4999, ""), 10000},
		{deepRefs(4999, group), 10002},
		{deepRefs(4998, group), 10000},
		{deepRefs(4998, tagged), 10001}, // the last level inside an object decoded whole
	} {
		if tt.depth > 10000 {
			// Refused at once: encoding/json checks the whole document
			// first. (Reading one 10,000 deep takes the strict decoder
			// a minute: each level decodes what is below it again.)
			if _, err := decodeDocumentStrict(tt.doc); err == nil {
				t.Fatalf("depth %d: the strict decoder accepts it", tt.depth)
			}
		}
		for _, c := range []*DecodeCache{nil, NewDecodeCache(8)} {
			if _, ok := decodeInfraLayered(tt.doc, c, ""); ok != (tt.depth <= 10000) {
				t.Fatalf("depth %d: the layered decoder accepts it: %v (the strict one: %v)", tt.depth, ok, tt.depth <= 10000)
			}
		}
	}
	checkLayered(t, deepRefs(100, group), NewDecodeCache(8))
}

// cachedBytes is what the objects a cache holds weigh, encoded.
func cachedBytes(t *testing.T, c *DecodeCache) (total, largest int) {
	t.Helper()
	for _, gen := range []map[Digest]Object{c.cur, c.old} {
		for _, o := range gen {
			b, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			total += len(b)
			largest = max(largest, len(b))
		}
	}
	return total, largest
}

// TestDecodeCacheBoundedInBytes: the cache outlives the request that
// filled it, and documents it decodes need not be valid (a group's
// description of 8 KiB is refused only by validation, later), so what it
// keeps must be bounded in bytes, not only in objects: otherwise a
// principal who may PATCH a space fills the manager's memory, 32 MiB a
// request, up to the cache's object count (100,000 in the API).
func TestDecodeCacheBoundedInBytes(t *testing.T) {
	const limit = 100
	c := NewDecodeCache(limit)
	doc := func(i, size int) []byte {
		return []byte(fmt.Sprintf(`{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","children":[`+
			`{"resource_type":"ChildGroup","Group":{"id":"g%d","description":"%s"}}]}]}`, i, strings.Repeat("x", size)))
	}
	// One object larger than any valid one is not kept at all.
	if _, err := c.ParseDocument("big.json", doc(0, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if _, largest := cachedBytes(t, c); largest > 256<<10 {
		t.Fatalf("the cache keeps an object of %d bytes", largest)
	}
	// Many objects of a size a valid one may have: the cache keeps about
	// limit objects of 512 bytes on average, two generations of them.
	for i := range 300 {
		if _, err := c.ParseDocument("many.json", doc(i+1, 8<<10)); err != nil {
			t.Fatal(err)
		}
	}
	if total, _ := cachedBytes(t, c); total > 2*limit*512+(256<<10) {
		t.Fatalf("a cache of %d objects keeps %d bytes", limit, total)
	}
	// Small objects are still kept (the cache still does its job).
	if _, err := c.ParseDocument("small.json", doc(1000, 10)); err != nil {
		t.Fatal(err)
	}
	if n := len(c.cur) + len(c.old); n == 0 {
		t.Fatal("the cache keeps nothing")
	}
}

// A document nested deeper than any policy document is refused at once
// with the depth named, by every way in, before a decoder reads it level
// by level (the strict decoder's cost grew with depth times size).
func TestDocumentDepthBounded(t *testing.T) {
	deep := func(levels int) []byte {
		// Infra > children > ChildResourceReference > children > ...
		var b strings.Builder
		b.WriteString(`{"resource_type":"Infra","children":`)
		for range levels {
			b.WriteString(`[{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","children":`)
		}
		b.WriteString(`[]`)
		for range levels {
			b.WriteString(`}]`)
		}
		b.WriteString(`}`)
		return []byte(b.String())
	}
	_, err := ParseDocument("deep.json", deep(40))
	if err == nil || !strings.Contains(err.Error(), "levels deep") {
		t.Fatalf("a document 40 references deep: %v", err)
	}
	if _, err := ParseDocument("shallow.json", deep(1)); err != nil && strings.Contains(err.Error(), "levels deep") {
		t.Fatalf("a document one reference deep: %v", err)
	}
	var ok strings.Builder
	ok.WriteString(strings.Repeat(`{"a":`, MaxDocumentDepth-1) + `{}` + strings.Repeat(`}`, MaxDocumentDepth-1))
	if _, err := ParseDocument("max.json", []byte(ok.String())); err != nil && strings.Contains(err.Error(), "levels deep") {
		t.Errorf("a document exactly %d deep is refused for its depth: %v", MaxDocumentDepth, err)
	}
}
