package model

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/textdoc"
)

// deepRefs is an Infra document whose children nest n
// ChildResourceReferences deep (2n+2 JSON levels), the last holding leaf.
func deepRefs(n int, leaf string) []byte {
	open := `{"resource_type":"ChildResourceReference","id":"d","target_type":"Domain","children":[`
	return []byte(`{"resource_type":"Infra","children":[` + strings.Repeat(open, n) + leaf + strings.Repeat("]}", n) + "]}")
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

// A document nested deeper than any policy document is refused at once,
// with its depth named, by every way in (a document Split did not
// measure is measured), before a decoder reads it: the
// strict decoder reads each level from the bytes below it (a document
// 10,000 deep of 400 KB took it 35-40 s), and the layered one recurses
// once per level.
func TestDocumentDepthBounded(t *testing.T) {
	const group = `{"resource_type":"ChildGroup","Group":{"id":"g"}}`
	ways := map[string]func([]byte) error{
		"ParseDocument": func(b []byte) error { _, err := ParseDocument("doc.json", b); return err },
		"DecodeCache.ParseDocument": func(b []byte) error {
			_, err := NewDecodeCache(8).ParseDocument("doc.json", b)
			return err
		},
		"DecodeCache.ParseChecked": func(b []byte) error {
			_, err := NewDecodeCache(8).ParseChecked("", "doc.json", split(t, b))
			return err
		},
		"DecodeCache.ParseChecked, not measured": func(b []byte) error {
			_, err := NewDecodeCache(8).ParseChecked("", "doc.json", textdoc.Document{JSON: b})
			return err
		},
	}
	for way, parse := range ways {
		// Infra > children > (reference > children) x n > group > Group.
		for n, refused := range map[int]bool{2000: true, 31: true, 30: false, 1: false} {
			err := parse(deepRefs(n, group))
			if deep := err != nil && strings.Contains(err.Error(), "levels deep"); deep != refused {
				t.Errorf("%s, %d references deep: %v", way, n, err)
			}
		}
	}
	checkLayered(t, deepRefs(30, group), NewDecodeCache(8))
}
