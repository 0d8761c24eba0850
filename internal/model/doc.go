// Package model owns kordon's policy model: the NSX Policy API shapes
// (Group and its expressions, Service and its entries, SecurityPolicy,
// GatewayPolicy, Rule, Tier0, Tier1, Domain and the hierarchical Infra
// document), their paths, strict decoding from JSON and YAML, the
// configuration they form together (Config), and its validation.
//
// Decoding accepts documents as NSX exports them: read-only fields such as
// _create_user, _links or realization_id are accepted and dropped, while a
// field NSX does not define for that type is an error naming the field, so
// a typo never silently changes a policy. Validation reports every problem
// at once, each naming the object path, the field and the reason.
//
// A document sent again with a few objects changed costs in proportion
// to them: the common shapes are decoded in one pass, each object on its
// own (layered.go), and a DecodeCache keeps decoded objects by the
// SHA-256 of their bytes, so the apply that follows decodes, compares
// and validates (Config.ValidateChange) only what changed. Anything the
// one pass is unsure of goes to the strict decoder, which names every
// problem.
//
// The member-type and operator tables (membertypes.go) say what each
// Condition member type accepts, whether it is a Kubernetes type, where
// it may be used, which inventory kind its objects are (by name: the
// package does not import inventory) and which NSX members endpoint lists
// them; validation, membership and the API read them.
//
// The package knows nothing about inventory, membership or evaluation; it
// is the contract those stages read.
package model
