package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// stored is how an inventory object travels and is stored: its kind and
// its record. encoding/json writes struct fields in order and map keys
// sorted, so equal objects encode to equal bytes.
type stored struct {
	Kind   Kind            `json:"kind"`
	Object json.RawMessage `json:"object"`
}

// Encode writes an object in its stored form.
func Encode(o Object) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	return json.Marshal(stored{Kind: o.Kind(), Object: b})
}

// Decode reads an object written by Encode.
func Decode(data []byte) (Object, error) {
	var s stored
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	o := New(s.Kind)
	if o == nil {
		return nil, fmt.Errorf("unknown inventory kind %q", s.Kind)
	}
	if err := json.Unmarshal(s.Object, o); err != nil {
		return nil, err
	}
	return o, nil
}

// Hash identifies an encoded object's content: an adapter compares it with
// the manager's digest to send only what differs.
func Hash(encoded []byte) string {
	sum := sha256.Sum256(encoded)
	return hex.EncodeToString(sum[:12])
}

// ObjectID names an object within its cluster: kind/namespace/name.
func (k Key) ObjectID() string { return string(k.Kind) + "/" + k.Namespace + "/" + k.Name }

// ParseObjectID is the inverse of ObjectID, in a cluster.
func ParseObjectID(cluster, id string) (Key, error) {
	var kind, ns, name string
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return Key{}, fmt.Errorf("object id %q is not kind/namespace/name", id)
	}
	kind, ns, name = parts[0], parts[1], parts[2]
	if New(Kind(kind)) == nil {
		return Key{}, fmt.Errorf("object id %q: unknown kind %q", id, kind)
	}
	return Key{Cluster: cluster, Kind: Kind(kind), Namespace: ns, Name: name}, nil
}
