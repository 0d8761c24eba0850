// Package store owns kordon's durable state: an etcd keyspace, either an
// embedded single-member etcd in the data directory (the default: one
// command runs kordon) or an external etcd cluster (for high
// availability), through the same small interface. Every key kordon
// writes is named in keys.go. Writes are transactions with preconditions,
// so concurrent managers never overwrite each other's work, and every
// read and event carries the store revision it reflects. Large reads
// (Scan) come a page at a time at one revision, and the embedded etcd
// snapshots its log often, so neither a load nor a restart holds the
// whole state twice in memory.
//
// The store knows keys and bytes; what the values mean belongs to the
// manager.
package store
