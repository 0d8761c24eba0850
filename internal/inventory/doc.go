// Package inventory owns kordon's view of registered Kubernetes clusters:
// compact, version-independent records of the objects generic groups are
// built from (Nodes, Namespaces, Services, Pods, Ingresses, Gateways,
// Antrea Egresses, IPPools and ExternalIPPools), their conversion from
// Kubernetes API objects of every version kordon supports, and the loader
// for inventories dumped with kubectl (which counts, per file, the objects
// of kinds it does not keep; it cuts documents into objects with one
// light scan and decodes each object once, sniff.go; the objects of a
// dump share equal strings and label maps, intern.go). Kubernetes labels become NSX tags here
// (scope "dis:k8s:<key>", tag "<value>").
//
// The records keep what resolving Antrea's behaviour needs, and it is
// resolved here, once, as Antrea does: which egress IP of an Egress is in
// effect (Egress.Effect, from its spec, status and conditions), and which
// pod ports a Service's target ports are, named ones through the pod's
// container ports (Pod.NPLPodPorts as Antrea's NodePortLocal reads them,
// Pod.TargetPort as Kubernetes does for endpoints).
//
// It does not decide membership; the membership package reads these
// records.
package inventory
