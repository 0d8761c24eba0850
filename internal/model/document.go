package model

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/kordon-dev/kordon/internal/textdoc"
)

// ParseDocument decodes a policy file (JSON or YAML; YAML may hold several
// documents separated by "---") into hierarchical documents, one per
// document in the file. Each document is either an Infra document, a
// single object (Domain, Group, Service, SecurityPolicy, GatewayPolicy,
// Rule, Tier0 or Tier1, placed by its path, or in the default domain when
// it has none), a JSON list of such objects, or an NSX list response
// (an object with "results"). name is used in error messages only.
func ParseDocument(name string, data []byte) ([]*Infra, error) {
	return parseDocument(name, data, nil)
}

func parseDocument(name string, data []byte, cache *DecodeCache) ([]*Infra, error) {
	docs, syntax := textdoc.Split(name, data)
	var errs Errors
	for _, e := range syntax {
		errs = append(errs, Error{Path: e.Where, Reason: e.Reason})
	}
	if len(docs) == 0 && len(syntax) == 0 {
		return nil, Errors{{Path: name, Reason: "the file holds no document"}}
	}
	var out []*Infra
	for _, d := range docs {
		infra, err := decodeDocument(d, cache, "")
		if err != nil {
			errs = append(errs, withPath(d.Where, err)...)
			continue
		}
		if infra != nil {
			out = append(out, infra)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// MaxDocumentDepth bounds how deeply a policy document's arrays and
// objects may nest. The deepest document the model can hold (an Infra, a
// resource reference, a domain, a group, a nested expression and its
// conditions with their tags) nests about 20 levels.
const MaxDocumentDepth = 64

// decodeDocument decodes one JSON document (valid, with distinct keys,
// as textdoc.Split gives it) into an Infra document: the layered decoder
// reads the common shapes, the strict one the others and names every
// problem.
func decodeDocument(d textdoc.Document, cache *DecodeCache, scope string) (*Infra, error) {
	data := d.JSON
	depth := d.Depth
	if depth == 0 && len(data) > 0 && (data[0] == '{' || data[0] == '[') {
		depth = textdoc.Depth(data) // a document not measured by Split
	}
	// Each level of children is decoded from the bytes below it, so a
	// document nested thousands deep (as JSON allows) cost time in the
	// square of its size: minutes of CPU for a body of a few megabytes.
	if depth > MaxDocumentDepth {
		return nil, Errors{{Reason: fmt.Sprintf("the document nests %d levels deep; a policy document needs far fewer, and at most %d are read", depth, MaxDocumentDepth)}}
	}
	if infra, ok := decodeInfraLayered(data, cache, scope); ok {
		return infra, nil
	}
	return decodeDocumentStrict(data)
}

func decodeDocumentStrict(data []byte) (*Infra, error) {
	trimmed := bytes.TrimSpace(data)
	if bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	if trimmed[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, humanize(err)
		}
		return objectsDocument(raws, "")
	}
	fields, err := objectFields(trimmed)
	if err != nil {
		return nil, err
	}
	rt, err := resourceType(trimmed)
	if err != nil {
		return nil, err
	}
	if rt == "" {
		if results, ok := fields["results"]; ok {
			var raws []json.RawMessage
			if err := json.Unmarshal(results, &raws); err != nil {
				return nil, prefixErrors("results", err)
			}
			return objectsDocument(raws, "results")
		}
		return nil, Errors{{Field: "resource_type", Reason: "missing: a document is an Infra (resource_type: Infra) or a single object such as a Group or SecurityPolicy"}}
	}
	if rt == "Infra" {
		var infra Infra
		if err := json.Unmarshal(trimmed, &infra); err != nil {
			return nil, err
		}
		return &infra, nil
	}
	return objectsDocument([]json.RawMessage{trimmed}, "")
}

// objectsDocument turns standalone objects into one hierarchical document.
func objectsDocument(raws []json.RawMessage, field string) (*Infra, error) {
	infra := &Infra{}
	var errs Errors
	for i, raw := range raws {
		loc := field
		if len(raws) > 1 || field != "" {
			loc = joinField(field, fmt.Sprintf("[%d]", i))
		}
		if err := addStandalone(infra, raw); err != nil {
			errs = append(errs, prefixErrors(loc, err)...)
		}
	}
	return infra, errs.orNil()
}

var standaloneKinds = map[string]func() Object{
	"Domain": func() Object { return &Domain{} }, "Group": func() Object { return &Group{} },
	"Service": func() Object { return &Service{} }, "SecurityPolicy": func() Object { return &SecurityPolicy{} },
	"GatewayPolicy": func() Object { return &GatewayPolicy{} }, "Rule": func() Object { return &Rule{} },
	"Tier0": func() Object { return &Tier0{} }, "Tier1": func() Object { return &Tier1{} },
}

// addStandalone places one object into infra by its path (or parent_path),
// defaulting to the default domain.
func addStandalone(infra *Infra, raw json.RawMessage) error {
	rt, err := resourceType(raw)
	if err != nil {
		return err
	}
	mk, ok := standaloneKinds[rt]
	if !ok {
		return Errors{{Field: "resource_type", Reason: fmt.Sprintf("%q is not an object kordon manages (Infra, Domain, Group, Service, SecurityPolicy, GatewayPolicy, Rule, Tier0, Tier1)", rt)}}
	}
	obj := mk()
	if err := json.Unmarshal(raw, obj); err != nil {
		return err
	}
	m := obj.GetMeta()
	ref, err := placement(obj.Kind(), m)
	if err != nil {
		return Errors{{Field: "path", Reason: err.Error()}}
	}
	if m.ID == "" {
		m.ID = ref.ID
	}
	ch := Wrap(obj)
	switch obj.Kind() {
	case KindDomain, KindService, KindTier0, KindTier1:
		infra.Children = append(infra.Children, ch)
	case KindRule:
		pol := Child{Type: "ChildResourceReference", RefID: ref.Policy, TargetType: string(ref.PolicyKind), Children: ChildList{ch}}
		infra.Children = append(infra.Children, domainRef(ref.Domain, pol))
	default:
		infra.Children = append(infra.Children, domainRef(ref.Domain, ch))
	}
	return nil
}

func domainRef(domain string, ch Child) Child {
	return Child{Type: "ChildResourceReference", RefID: domain, TargetType: "Domain", Children: ChildList{ch}}
}

// placement finds where a standalone object goes: its path, else its
// parent_path and id, else the default domain.
func placement(k Kind, m *Meta) (Ref, error) {
	if m.Path != "" {
		r, err := ParsePath(m.Path)
		if err != nil {
			return r, err
		}
		if r.Kind != k {
			return r, fmt.Errorf("%q is the path of a %s, not of a %s", m.Path, r.Kind, k)
		}
		if r.Project != "" {
			return r, fmt.Errorf("%q is inside a project; load project objects through the project's API", m.Path)
		}
		if k == KindDomain {
			r.ID = r.Domain
		}
		if m.ID != "" && m.ID != r.ID {
			return r, fmt.Errorf("id %q does not match path %q", m.ID, m.Path)
		}
		return r, nil
	}
	r := Ref{Kind: k, ID: m.ID, Domain: DefaultDomain}
	if k == KindDomain {
		r.Domain = m.ID
	}
	if m.ParentPath != "" && (k == KindDomain || k == KindService || k == KindTier0 || k == KindTier1) {
		if m.ParentPath != "/infra" {
			return r, fmt.Errorf("parent_path %q of a %s must be /infra", m.ParentPath, k)
		}
	} else if m.ParentPath != "" {
		pr, err := ParsePath(m.ParentPath)
		if err != nil {
			return r, err
		}
		if pr.Project != "" {
			return r, fmt.Errorf("%q is inside a project; load project objects through the project's API", m.ParentPath)
		}
		if k != KindRule && pr.Kind != KindDomain {
			return r, fmt.Errorf("parent_path %q of a %s must be a domain", m.ParentPath, k)
		}
		r.Domain = pr.Domain
		if k == KindRule {
			if pr.Kind != KindSecurityPolicy && pr.Kind != KindGatewayPolicy {
				return r, fmt.Errorf("parent_path %q of a rule must be a security or gateway policy", m.ParentPath)
			}
			r.Policy, r.PolicyKind = pr.ID, pr.Kind
		}
	} else if k == KindRule {
		return r, fmt.Errorf("a standalone rule needs its path or parent_path to say which policy it belongs to")
	}
	return r, nil
}

// ParseConfig reads a policy file's documents into a new configuration
// of the default space, in order, and validates it: the one-file form of
// what the CLI and the manager do. Every problem comes back together,
// each naming its file, path and field.
func ParseConfig(name string, data []byte) (*Config, error) {
	docs, err := ParseDocument(name, data)
	if err != nil {
		return nil, err
	}
	cfg := NewConfig()
	for _, d := range docs {
		if cfg, _, err = cfg.Apply("", d); err != nil {
			return nil, err
		}
	}
	return cfg, cfg.Validate().orNil()
}
