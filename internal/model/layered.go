package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"sync"

	"github.com/kordon-dev/kordon/internal/textdoc"
)

// A hierarchical document is a few containers (the Infra root, domains,
// policies) around many small objects. Decoding it level by level with
// encoding/json reads every byte again at every level (each Unmarshal
// validates its whole input before a custom decoder sees it), so the
// layered decoder here walks the containers once, by hand, and decodes
// each object strictly on its own. It relies on its input being one valid
// JSON value with distinct keys (what textdoc.Split hands over) and
// accepts only the common shapes; on anything else, errors included, it
// gives up and the strict decoder reads the whole document again, so
// every error is still the strict decoder's and, for a document both
// accept, both give the same result (TestLayeredMatchesStrict).

// Digest is the SHA-256 of the exact bytes a document gave one object
// as, with its kind: two objects with the same digest were given as the
// same bytes. For a container (a domain, a policy) the bytes are its own
// fields, its children left out.
type Digest [sha256.Size]byte

func digestOf(scope, kind string, b []byte) Digest {
	h := sha256.New()
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(b)
	var d Digest
	h.Sum(d[:0])
	return d
}

// DecodeCache remembers objects decoded from documents by the Digest of
// their bytes, so that a document sent again, changed in a few objects,
// is decoded (and strictly validated) only in what changed: the same
// bytes always decode to the same object. It keeps the objects of about
// the last limit to 2*limit distinct objects seen, and of no more than
// about limit*cachedBytesPerObject bytes of their text a generation:
// documents are cached before they are validated (and outlive the
// request), so what they hold is bounded in bytes, not only in objects.
// The objects it hands out are shared between documents: nothing may
// modify them (Config.Apply does not; it copies what it stores). Safe
// for concurrent use.
type DecodeCache struct {
	mu       sync.Mutex
	limit    int
	maxBytes int // of the current generation's objects' text
	curBytes int
	cur, old map[Digest]Object
}

const (
	// cachedBytesPerObject is the average size, in bytes of text, of
	// the objects a cache holds at most (the scale benchmark's document:
	// 20,111 objects, 8.9 MB, ~440 bytes each).
	cachedBytesPerObject = 512
	// cachedObjectMax: a larger object is decoded each time it comes,
	// not kept (no valid object is as large: a group of the most
	// addresses allowed, 4,000, takes about 180 KB).
	cachedObjectMax = 256 << 10
)

// NewDecodeCache returns a cache holding at least limit objects (or
// limit*cachedBytesPerObject bytes of them).
func NewDecodeCache(limit int) *DecodeCache {
	limit = max(limit, 1)
	return &DecodeCache{limit: limit, maxBytes: limit * cachedBytesPerObject, cur: map[Digest]Object{}}
}

// get returns the object of digest d, given as size bytes.
func (c *DecodeCache) get(d Digest, size int) (Object, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.cur[d]; ok {
		return o, true
	}
	if o, ok := c.old[d]; ok {
		c.putLocked(d, o, size)
		return o, true
	}
	return nil, false
}

func (c *DecodeCache) put(d Digest, o Object, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(d, o, size)
}

// putLocked starts a new generation when the current one is full, in
// objects or in bytes: what was not used during a whole generation is
// dropped.
func (c *DecodeCache) putLocked(d Digest, o Object, size int) {
	if len(c.cur) >= c.limit || c.curBytes+size > c.maxBytes {
		c.old, c.cur, c.curBytes = c.cur, make(map[Digest]Object, min(c.limit, 1024)), 0
	}
	c.cur[d] = o
	c.curBytes += size
}

// ParseDocument is model.ParseDocument, decoding through the cache; each
// object of a hierarchical document comes with its Digest (Child.Sum).
func (c *DecodeCache) ParseDocument(name string, data []byte) ([]*Infra, error) {
	return parseDocument(name, data, c)
}

// ParseChecked is ParseDocument for one JSON document textdoc.Split
// returned (one value, valid UTF-8, not null, no key twice, its depth
// measured), which it does not check again. Documents of different
// scopes (spaces) share nothing: a document cannot tell, by how long it
// takes, which objects another space's documents held.
func (c *DecodeCache) ParseChecked(scope, name string, doc textdoc.Document) ([]*Infra, error) {
	infra, err := decodeDocument(doc, c, scope)
	if err != nil {
		return nil, withPath(name, err)
	}
	return []*Infra{infra}, nil
}

// layered decodes one hierarchical document; cache may be nil.
type layered struct {
	d     []byte
	cache *DecodeCache
	scope string
}

// decodeInfraLayered decodes data (one valid JSON value, distinct keys,
// nested no deeper than MaxDocumentDepth: its walk recurses once per
// level) when it is an Infra document in a shape the layered decoder
// reads.
func decodeInfraLayered(data []byte, cache *DecodeCache, scope string) (*Infra, bool) {
	l := &layered{d: data, cache: cache, scope: scope}
	i := l.space(0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	own, kids, hasKids, end, ok := l.container(i)
	if !ok || l.space(end) != len(data) {
		return nil, false
	}
	if rt, err := resourceType(own); err != nil || rt != "Infra" {
		return nil, false
	}
	infra := &Infra{}
	if json.Unmarshal(own, infra) != nil {
		return nil, false
	}
	if hasKids {
		infra.Children = kids
	}
	return infra, true
}

func (l *layered) space(i int) int {
	for i < len(l.d) {
		switch l.d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the end of the string that starts at i.
func (l *layered) skipString(i int) int {
	i++
	for {
		k := i + bytes.IndexByte(l.d[i:], '"')
		n := 0
		for m := k - 1; m >= i && l.d[m] == '\\'; m-- {
			n++
		}
		if n%2 == 0 {
			return k + 1
		}
		i = k + 1
	}
}

// skip returns the end of the value that starts at i.
func (l *layered) skip(i int) int {
	d := l.d
	switch d[i] {
	case '"':
		return l.skipString(i)
	case '{', '[':
		depth := 0
		for ; i < len(d); i++ {
			switch d[i] {
			case '"':
				i = l.skipString(i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(d) {
		switch d[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// members walks the object at i, calling member with each key, where the
// member starts (its key) and where its value starts; member returns
// where the value ends. A key with an escape stops the walk (the strict
// decoder reads such keys).
func (l *layered) members(i int, member func(key string, from, start int) (int, bool)) (int, bool) {
	d := l.d
	i = l.space(i + 1)
	if d[i] == '}' {
		return i + 1, true
	}
	for {
		ke := l.skipString(i)
		key := d[i+1 : ke-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return 0, false
		}
		end, ok := member(string(key), i, l.space(l.space(ke)+1))
		if !ok {
			return 0, false
		}
		i = l.space(end)
		if d[i] == '}' {
			return i + 1, true
		}
		i = l.space(i + 1)
	}
}

// plainString reads the string at i, which must have no escape.
func (l *layered) plainString(i int) (string, int, bool) {
	if l.d[i] != '"' {
		return "", 0, false
	}
	end := l.skipString(i)
	s := l.d[i+1 : end-1]
	return string(s), end, bytes.IndexByte(s, '\\') < 0
}

// container reads the object at i: its "children", decoded, and its
// other members as an object of their own (own), in their order.
func (l *layered) container(i int) (own []byte, kids ChildList, hasKids bool, end int, ok bool) {
	own = []byte{'{'}
	end, ok = l.members(i, func(key string, from, start int) (int, bool) {
		if key == "children" {
			hasKids = true
			var e int
			var ok bool
			kids, e, ok = l.childList(start)
			return e, ok
		}
		if len(own) > 1 {
			own = append(own, ',')
		}
		e := l.skip(start)
		own = append(own, l.d[from:e]...)
		return e, true
	})
	return append(own, '}'), kids, hasKids, end, ok
}

func (l *layered) childList(i int) (ChildList, int, bool) {
	d := l.d
	if d[i] != '[' {
		return nil, 0, false
	}
	out := ChildList{}
	i = l.space(i + 1)
	if d[i] == ']' {
		return out, i + 1, true
	}
	for {
		if d[i] != '{' {
			return nil, 0, false
		}
		c, end, ok := l.child(i)
		if !ok {
			return nil, 0, false
		}
		out = append(out, c)
		i = l.space(end)
		if d[i] == ']' {
			return out, i + 1, true
		}
		i = l.space(i + 1)
	}
}

// containerKinds are the objects whose children the layered decoder reads
// itself; other objects are decoded whole.
var containerKinds = map[string]bool{"Domain": true, "SecurityPolicy": true, "GatewayPolicy": true}

// child reads one element of a children list, as decodeChild does.
func (l *layered) child(i int) (Child, int, bool) {
	var (
		c                  Child
		typ, objKey        string
		hasTarget, hasRefs bool
		raw, own           []byte
		kids, refs         ChildList // the object's children; a reference's
		hasKids            bool
		other              bool // a member the layered decoder leaves to decodeChild
	)
	end, ok := l.members(i, func(key string, _, start int) (int, bool) {
		switch {
		case key == "resource_type":
			s, e, ok := l.plainString(start)
			typ = s
			return e, ok
		case key == "marked_for_delete":
			switch {
			case bytes.HasPrefix(l.d[start:], []byte("true")):
				c.MarkedForDelete = true
				return start + 4, true
			case bytes.HasPrefix(l.d[start:], []byte("false")):
				return start + 5, true
			}
			return 0, false
		case key == "id":
			s, e, ok := l.plainString(start)
			c.RefID = s
			return e, ok
		case key == "target_type":
			s, e, ok := l.plainString(start)
			c.TargetType, hasTarget = s, true
			return e, ok
		case key == "children":
			var e int
			var ok bool
			refs, e, ok = l.childList(start)
			hasRefs = true
			return e, ok
		case childKinds["Child"+key] != nil && objKey == "" && l.d[start] == '{':
			objKey = key
			if containerKinds[key] {
				var e int
				var ok bool
				own, kids, hasKids, e, ok = l.container(start)
				return e, ok
			}
			e := l.skip(start)
			raw = l.d[start:e]
			return e, true
		case readOnlyFields[key]:
			return l.skip(start), true
		}
		other = true
		return l.skip(start), true
	})
	if !ok || other {
		return l.strictChild(i, ok, end)
	}
	c.Type = typ
	switch {
	case typ == "ChildResourceReference" && objKey == "":
		if hasRefs {
			c.Children = refs
		}
		return c, end, true
	case objKey != "" && typ == "Child"+objKey && !hasTarget && !hasRefs:
		// A wrapped object's id is the object's (decodeChild allows
		// and ignores the wrapper's).
		c.RefID, c.TargetType = "", ""
		o, sum, ok := l.object(objKey, raw, own, kids, hasKids)
		c.Object, c.Sum = o, sum
		return c, end, ok
	}
	return Child{}, 0, false
}

// strictChild decodes the child at i with decodeChild, for the shapes
// the layered decoder leaves to it (a ChildServiceEntry, say).
func (l *layered) strictChild(i int, walked bool, end int) (Child, int, bool) {
	if !walked {
		return Child{}, 0, false
	}
	c, err := decodeChild(l.d[i:end])
	return c, end, err == nil
}

// object decodes one wrapped object: raw whole, or a container from its
// own fields and the children already decoded.
func (l *layered) object(kind string, raw, own []byte, kids ChildList, hasKids bool) (Object, Digest, bool) {
	if own != nil {
		raw = own
	}
	var sum Digest
	o, ok := Object(nil), false
	keep := l.cache != nil && len(raw) <= cachedObjectMax
	if l.cache != nil {
		sum = digestOf(l.scope, kind, raw)
	}
	if keep {
		o, ok = l.cache.get(sum, len(raw))
	}
	if !ok {
		o = childKinds["Child"+kind]()
		if json.Unmarshal(raw, o) != nil {
			return nil, sum, false
		}
		if keep {
			l.cache.put(sum, o, len(raw))
		}
	}
	if !hasKids {
		return o, sum, true
	}
	// The cached object is shared: the children go on a copy.
	switch x := o.(type) {
	case *Domain:
		cp := *x
		cp.Children = kids
		return &cp, sum, true
	case *SecurityPolicy:
		cp := *x
		cp.Children = kids
		return &cp, sum, true
	case *GatewayPolicy:
		cp := *x
		cp.Children = kids
		return &cp, sum, true
	}
	return nil, sum, false
}
