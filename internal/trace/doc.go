// Package trace owns the account of how traffic crosses the boundary
// between Antrea clusters and VMs, as the seed's scenarios describe it.
//
// Outbound, it decides which source address a firewall outside the
// cluster sees for a pod's traffic: the pod's own routable address when
// it comes from an Antrea IPPool (such pods are bridged to the underlay
// and bypass the Antrea gateway, where Egress SNAT happens), else the
// egress IP of an Antrea Egress whose appliedTo selects the pod, when that
// IP is in effect (SNAT on the egress node; inventory's Egress.Effect
// decides it as Antrea's agent does), else the IP of the pod's node
// (masquerade). Inbound, it lists every address and port by which a
// Service, Ingress or Gateway is reachable from outside: VIPs, node IP +
// NodePort on every node, node IP + NodePortLocal port per backend pod
// (the mappings of the Service's target ports, named ones resolved
// through the pod's containers), routable pod IPs. Then it decides each resulting flow with
// the gateway firewall and the distributed firewall at the VM, through
// the policy and explain packages.
//
// It is pure: the inventory, configuration and memberships come in as
// values; the CLI and the API server supply them.
package trace
