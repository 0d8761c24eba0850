package model

import "encoding/json"

// Tag is an NSX tag. Kubernetes labels appear as tags whose scope is
// "dis:k8s:<label key>" and whose tag is the label value. Both fields are
// always written, an empty scope as "": NSX returns them so, and clients
// read both without looking (the Terraform provider dereferences a rule
// tag's scope and tag).
type Tag struct {
	Scope string `json:"scope"`
	Tag   string `json:"tag"`
}

// UnmarshalJSON decodes strictly: unknown fields are errors.
func (t *Tag) UnmarshalJSON(b []byte) error {
	type plain Tag
	return unmarshalStrict(b, (*plain)(t))
}

// Meta holds the fields every NSX policy object carries. The underscore
// fields are maintained by the manager; documents may carry them (NSX
// exports do) and kordon then ignores what it maintains itself.
type Meta struct {
	ResourceType     string `json:"resource_type,omitempty"`
	ID               string `json:"id,omitempty"`
	DisplayName      string `json:"display_name,omitempty"`
	Description      string `json:"description,omitempty"`
	Tags             []Tag  `json:"tags,omitempty"`
	Path             string `json:"path,omitempty"`
	ParentPath       string `json:"parent_path,omitempty"`
	RelativePath     string `json:"relative_path,omitempty"`
	MarkedForDelete  bool   `json:"marked_for_delete,omitempty"`
	Revision         int64  `json:"_revision"`
	CreateTime       int64  `json:"_create_time,omitempty"`
	CreateUser       string `json:"_create_user,omitempty"`
	LastModifiedTime int64  `json:"_last_modified_time,omitempty"`
	LastModifiedUser string `json:"_last_modified_user,omitempty"`
	SystemOwned      bool   `json:"_system_owned,omitempty"`
	// EmptyText lists the free-text fields (description, and a policy's
	// comments, a rule's notes and tag) the object was given as "". NSX
	// returns a text field it was given, even empty, and omits one it was
	// not given; encoding does the same. Decoding fills it.
	EmptyText []string `json:"-"`
}

// GetMeta gives access to the common fields of any object.
func (m *Meta) GetMeta() *Meta { return m }

// Object is any stored policy object.
type Object interface {
	GetMeta() *Meta
	Kind() Kind
}

// Domain groups groups and policies. kordon, like NSX, uses "default".
type Domain struct {
	Meta
	Children ChildList `json:"children,omitempty"`
}

// Kind implements Object.
func (*Domain) Kind() Kind { return KindDomain }

// UnmarshalJSON decodes strictly.
func (d *Domain) UnmarshalJSON(b []byte) error {
	type plain Domain
	_, empty, err := unmarshalObject(b, (*plain)(d), false, metaText)
	d.EmptyText = empty
	return err
}

// MarshalJSON writes the empty text fields the domain was given.
func (d Domain) MarshalJSON() ([]byte, error) {
	type plain Domain
	return marshalObject(plain(d), d.EmptyText, nil)
}

// Tier0 is a tier-0 gateway. kordon needs only its identity (gateway
// firewall rules are scoped to it); its routing configuration is kept as
// given and not interpreted.
type Tier0 struct {
	Meta
	Extra map[string]json.RawMessage `json:"-"`
}

// Kind implements Object.
func (*Tier0) Kind() Kind { return KindTier0 }

// UnmarshalJSON keeps fields kordon does not model in Extra.
func (t *Tier0) UnmarshalJSON(b []byte) error {
	type plain Tier0
	extra, empty, err := unmarshalObject(b, (*plain)(t), true, metaText)
	t.Extra, t.EmptyText = extra, empty
	return err
}

// MarshalJSON writes the modelled fields and Extra.
func (t *Tier0) MarshalJSON() ([]byte, error) {
	type plain Tier0
	return marshalObject((*plain)(t), t.EmptyText, t.Extra)
}

// Tier1 is a tier-1 gateway, optionally attached to a tier-0.
type Tier1 struct {
	Meta
	Tier0Path string                     `json:"tier0_path,omitempty"`
	Extra     map[string]json.RawMessage `json:"-"`
}

// Kind implements Object.
func (*Tier1) Kind() Kind { return KindTier1 }

// UnmarshalJSON keeps fields kordon does not model in Extra.
func (t *Tier1) UnmarshalJSON(b []byte) error {
	type plain Tier1
	extra, empty, err := unmarshalObject(b, (*plain)(t), true, metaText)
	t.Extra, t.EmptyText = extra, empty
	return err
}

// MarshalJSON writes the modelled fields and Extra.
func (t *Tier1) MarshalJSON() ([]byte, error) {
	type plain Tier1
	return marshalObject((*plain)(t), t.EmptyText, t.Extra)
}
