// Package advise owns kordon's advisor: it reads a configuration and the
// inventory and reports what an administrator should change, each finding
// with the objects involved and a fix. It applies the seed's placement
// recommendation (cluster-to-VM traffic on the gateway firewall,
// VM-to-cluster traffic on the DFW), catches member types used on the
// side of a rule where they never match, groups that resolve to nothing
// (ClusterIP Services, Egresses without an IP or whose IP Antrea has not
// put in effect, VIPs not yet assigned),
// pods whose Egress is ambiguous, members of clusters that are not Up,
// and, through the reach package's exact analysis, shadowed and
// redundant rules. Findings that share a cause (the pods one set of
// Egresses selects ambiguously, the NodePort Services of a cluster without
// nodes) are reported once, with the count of instances and a bounded
// sample of them (Finding.Count, Finding.Sample).
package advise
