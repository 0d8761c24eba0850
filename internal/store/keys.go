package store

import (
	"strings"
)

// Every key kordon writes. Policy objects live under their NSX path, so
// the key of /infra/domains/default/groups/web is
// /kordon/v1/objects/infra/domains/default/groups/web.
const (
	Root            = "/kordon/v1/"
	ObjectsPrefix   = Root + "objects"
	ProjectsPrefix  = Root + "projects/"
	InventoryPrefix = Root + "inventory/"
	ClustersPrefix  = Root + "clusters/"
	TokensPrefix    = Root + "tokens/"
	// TokenUsedPrefix holds when each token was last used, to the minute.
	TokenUsedPrefix = Root + "token-used/"
	TrustPrefix     = Root + "license-trust/"
	// SessionsPrefix holds the console's sign-in sessions, by the hash of
	// their secret.
	SessionsPrefix = Root + "sessions/"
	// Per cluster: its adapter's last heartbeat, and its inventory
	// revision (rewritten by every adapter write, so an adapter's writes
	// are conditioned on what it last saw).
	StatusPrefix       = Root + "cluster-status/"
	InventoryRevPrefix = Root + "inventory-revision/"
	// Per cluster read from an inventory directory: a digest of the
	// files its stored inventory was last written from.
	InventoryDirPrefix = Root + "inventory-dir/"
	// Per enforcement agent: its record (role, gateway, reported VM
	// facts) and its last realization report.
	AgentsPrefix      = Root + "agents/"
	AgentReportPrefix = Root + "agent-report/"
	// Earlier versions stored cluster and agent private keys under these
	// prefixes; start-up deletes whatever is left there.
	LegacyClusterCredentialsPrefix = Root + "cluster-credentials/"
	LegacyAgentCredentialsPrefix   = Root + "agent-credentials/"
	// ConfigRevKey is rewritten by every configuration change; writers
	// condition on its ModRevision, so validation always sees the latest
	// configuration even with several managers.
	ConfigRevKey = Root + "config-revision"
	LicenseKey   = Root + "license"
	CAKey        = Root + "pki/ca"
	InitKey      = Root + "initialized"
)

// ObjectKey is the key of the policy object at an NSX path.
func ObjectKey(path string) string { return ObjectsPrefix + path }

// ObjectPath is the NSX path of an object key.
func ObjectPath(key string) string { return strings.TrimPrefix(key, ObjectsPrefix) }

// InventoryKey is the key of an inventory object.
func InventoryKey(cluster, kind, namespace, name string) string {
	return InventoryPrefix + cluster + "/" + kind + "/" + namespace + "/" + name
}

// ClusterInventoryPrefix is the prefix of one cluster's inventory.
func ClusterInventoryPrefix(cluster string) string { return InventoryPrefix + cluster + "/" }
