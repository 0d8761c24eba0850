// Package policy owns firewall rule semantics: it compiles the security
// (DFW) and gateway (GFW) policies of a configuration, with the current
// group memberships, into an ordered Ruleset for one enforcement point,
// and decides flows against it.
//
// Semantics, in two sentences: rules are evaluated in category order
// (DFW: Emergency, Infrastructure, Environment, Application, then
// uncategorised, then the default layer-3 section; GFW: Emergency,
// SystemRules, SharedPreRules, LocalGatewayRules, AutoServiceRules,
// Default), then by policy sequence_number, then by rule sequence_number,
// ties broken by path; the first matching rule decides, except that
// JUMP_TO_APPLICATION skips the rest of Environment and continues with
// Application. When no rule matches, the default rule allows, as NSX
// ships. An enforcement point sees the default space's policies and its
// own project's, the default space's first within each category.
//
// Ruleset.Evaluate is the reference: a plain scan that also explains its
// decision. Classifier gives the same answers, without allocating, fast
// enough for bulk evaluation.
package policy
