package model

// Place wraps one object into the hierarchical document that creates (or,
// with remove, deletes) it at ref: the single-object API calls become the
// same operation as a hierarchical PATCH.
func Place(ref Ref, obj Object, remove bool) *Infra {
	ch := Child{Type: "Child" + string(ref.Kind), Object: obj, MarkedForDelete: remove}
	switch ref.Kind {
	case KindService, KindTier0, KindTier1:
		return &Infra{Children: ChildList{ch}}
	case KindDomain:
		return &Infra{Children: ChildList{ch}}
	case KindRule:
		pol := Child{Type: "ChildResourceReference", RefID: ref.Policy, TargetType: string(ref.PolicyKind), Children: ChildList{ch}}
		return &Infra{Children: ChildList{domainRef(ref.Domain, pol)}}
	}
	return &Infra{Children: ChildList{domainRef(ref.Domain, ch)}}
}

// Stub returns an empty object of a kind with an id, for deletions.
func Stub(k Kind, id string) Object {
	var o Object
	switch k {
	case KindDomain:
		o = &Domain{}
	case KindGroup:
		o = &Group{}
	case KindService:
		o = &Service{}
	case KindSecurityPolicy:
		o = &SecurityPolicy{}
	case KindGatewayPolicy:
		o = &GatewayPolicy{}
	case KindRule:
		o = &Rule{}
	case KindTier0:
		o = &Tier0{}
	case KindTier1:
		o = &Tier1{}
	default:
		return nil
	}
	o.GetMeta().ID = id
	return o
}

// NewObject returns an empty object of a kind, for decoding.
func NewObject(k Kind) Object { return Stub(k, "") }
