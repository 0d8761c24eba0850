package model

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Infra is the root of NSX's hierarchical policy document: PATCH
// /policy/api/v1/infra with children applies them all atomically.
type Infra struct {
	Meta
	Children ChildList `json:"children,omitempty"`
}

// UnmarshalJSON decodes strictly.
func (i *Infra) UnmarshalJSON(b []byte) error {
	type plain Infra
	return unmarshalStrict(b, (*plain)(i))
}

// MarshalJSON writes the document with resource_type Infra.
func (i *Infra) MarshalJSON() ([]byte, error) {
	type plain Infra
	c := *i
	c.ResourceType = "Infra"
	return json.Marshal((*plain)(&c))
}

// Child is one wrapped element of a hierarchical document: ChildGroup
// wraps a Group under the key "Group", and so on. ChildResourceReference
// names an existing object (by id and target_type) only to reach its
// children.
type Child struct {
	Type            string
	MarkedForDelete bool
	Object          Object       // set for Child<Kind>
	Entry           ServiceEntry // set for ChildServiceEntry
	RefID           string       // ChildResourceReference
	TargetType      string       // ChildResourceReference
	Children        ChildList    // ChildResourceReference
	// Sum is the Digest of the bytes Object was given as, when it was
	// decoded through a DecodeCache (zero otherwise).
	Sum Digest
}

// childKinds maps a Child* resource_type to the key of the wrapped object
// and a constructor for it.
var childKinds = map[string]func() Object{
	"ChildDomain":         func() Object { return &Domain{} },
	"ChildGroup":          func() Object { return &Group{} },
	"ChildService":        func() Object { return &Service{} },
	"ChildSecurityPolicy": func() Object { return &SecurityPolicy{} },
	"ChildGatewayPolicy":  func() Object { return &GatewayPolicy{} },
	"ChildRule":           func() Object { return &Rule{} },
	"ChildTier0":          func() Object { return &Tier0{} },
	"ChildTier1":          func() Object { return &Tier1{} },
}

// ChildList is a list of children.
type ChildList []Child

// UnmarshalJSON decodes each child by its resource_type.
func (l *ChildList) UnmarshalJSON(b []byte) error {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return humanize(err)
	}
	out := make(ChildList, 0, len(raws))
	var errs Errors
	for i, raw := range raws {
		c, err := decodeChild(raw)
		if err != nil {
			errs = append(errs, prefixErrors(fmt.Sprintf("[%d]", i), err)...)
			continue
		}
		out = append(out, c)
	}
	*l = out
	return errs.orNil()
}

type childWrapper struct {
	ResourceType    string `json:"resource_type"`
	MarkedForDelete bool   `json:"marked_for_delete"`
	ID              string `json:"id"`
	TargetType      string `json:"target_type"`
}

func decodeChild(raw json.RawMessage) (Child, error) {
	fields, err := objectFields(raw)
	if err != nil {
		return Child{}, err
	}
	var w childWrapper
	if err := json.Unmarshal(raw, &w); err != nil {
		return Child{}, humanize(err)
	}
	c := Child{Type: w.ResourceType, MarkedForDelete: w.MarkedForDelete}
	allowed := map[string]bool{"resource_type": true, "marked_for_delete": true}
	switch {
	case w.ResourceType == "":
		return c, Errors{{Field: "resource_type", Reason: "missing: a child needs resource_type such as ChildDomain, ChildGroup or ChildSecurityPolicy"}}
	case w.ResourceType == "ChildResourceReference":
		c.RefID, c.TargetType = w.ID, w.TargetType
		for _, k := range []string{"id", "target_type", "children"} {
			allowed[k] = true
		}
		if raw, ok := fields["children"]; ok {
			if err := json.Unmarshal(raw, &c.Children); err != nil {
				return c, prefixErrors("children", err)
			}
		}
	case w.ResourceType == "ChildServiceEntry":
		allowed["ServiceEntry"] = true
		raw, ok := fields["ServiceEntry"]
		if !ok {
			return c, Errors{{Field: "ServiceEntry", Reason: "missing: ChildServiceEntry wraps its entry under \"ServiceEntry\""}}
		}
		e, err := decodeServiceEntry(raw)
		if err != nil {
			return c, prefixErrors("ServiceEntry", err)
		}
		c.Entry = e
	default:
		mk, ok := childKinds[w.ResourceType]
		if !ok {
			return c, Errors{{Field: "resource_type", Reason: fmt.Sprintf("kordon does not manage %s objects; it manages %s (export from NSX with GET /policy/api/v1/infra?filter=Type-Domain|Group|Service|SecurityPolicy|GatewayPolicy|Rule|Tier0|Tier1)", w.ResourceType, childTypeList())}}
		}
		key := strings.TrimPrefix(w.ResourceType, "Child")
		allowed[key] = true
		raw, ok := fields[key]
		if !ok {
			return c, Errors{{Field: key, Reason: fmt.Sprintf("missing: %s wraps its object under %q", w.ResourceType, key)}}
		}
		obj := mk()
		if err := json.Unmarshal(raw, obj); err != nil {
			return c, prefixErrors(key, err)
		}
		c.Object = obj
	}
	var errs Errors
	for _, k := range sortedKeys(fields) {
		if !allowed[k] && !readOnlyFields[k] && k != "id" {
			errs = append(errs, Error{Field: k, Reason: "unknown field in " + w.ResourceType})
		}
	}
	return c, errs.orNil()
}

func childTypeList() string {
	return "ChildDomain, ChildGroup, ChildService, ChildServiceEntry, ChildSecurityPolicy, ChildGatewayPolicy, ChildRule, ChildTier0, ChildTier1 and ChildResourceReference"
}

// MarshalJSON writes each child in NSX's wrapped form.
func (l ChildList) MarshalJSON() ([]byte, error) {
	out := make([]map[string]any, 0, len(l))
	for _, c := range l {
		m := map[string]any{"resource_type": c.Type}
		if c.MarkedForDelete {
			m["marked_for_delete"] = true
		}
		switch {
		case c.Type == "ChildResourceReference":
			m["id"], m["target_type"], m["children"] = c.RefID, c.TargetType, c.Children
		case c.Entry != nil:
			b, err := ServiceEntryList{c.Entry}.MarshalJSON()
			if err != nil {
				return nil, err
			}
			var one []json.RawMessage
			if err := json.Unmarshal(b, &one); err != nil {
				return nil, err
			}
			m["ServiceEntry"] = one[0]
		case c.Object != nil:
			b, err := marshalTyped(string(c.Object.Kind()), c.Object)
			if err != nil {
				return nil, err
			}
			m[strings.TrimPrefix(c.Type, "Child")] = json.RawMessage(b)
		}
		out = append(out, m)
	}
	return json.Marshal(out)
}

// Wrap returns the Child that carries obj in a hierarchical document.
func Wrap(obj Object) Child {
	return Child{Type: "Child" + string(obj.Kind()), Object: obj}
}
