// Package membership owns the effective members of generic groups: which
// inventory objects each group selects and which addresses (IPs, CIDRs,
// ranges) and address+port members they resolve to, exactly as the seed's
// summary table says:
//
//	AntreaEgress        its egress IP in effect (inventory's
//	                    Egress.Effect: a manual spec.egressIP, or the IP
//	                    Antrea reports a Node took); none until then
//	AntreaIPPool        its IP ranges
//	KubernetesNode      InternalIPs (key IPAddress) or pod CIDRs (key PodCidr)
//	KubernetesIngress   load-balancer ingress IPs
//	KubernetesGateway   status addresses of type IPAddress
//	KubernetesService   LoadBalancer: ingress IPs; NodePort: every node
//	                    InternalIP of its cluster (of the Service's IP
//	                    families) with each node port;
//	                    NodePortLocal (annotated ClusterIP or LoadBalancer):
//	                    the node IP and port Antrea maps for each selected
//	                    pod's target ports (named ones resolved through
//	                    the pod's container ports); plain ClusterIP: nothing
//
// KubernetesCluster and KubernetesNamespace conditions scope a criterion
// by AND. Groups also take literal addresses (IPAddressExpression) and
// other groups (PathExpression). Which member types exist, with their
// keys, operators, inventory kinds and NSX endpoints, comes from model's
// member-type table (model.MemberKinds); this package holds how objects
// match (criteria.go), what they resolve to (contrib.go) and their NSX
// member shapes (nsx.go).
//
// The Index is incremental: an inventory or group change touches only the
// groups it can affect (found through an index of each criterion's most
// selective condition) and records, per group, which members and
// addresses were added or removed. It does no I/O. Its reads (view.go,
// nsx.go) change nothing, so any number of them may run at once while no
// change runs; a change (Upsert, Delete, SetGroup, DeleteGroup, Load,
// TakeDeltas) needs the index to itself. The manager reads under its
// read lock and changes under its write lock.
package membership
