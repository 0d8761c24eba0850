// Package inventory owns kordon's view of registered Kubernetes clusters:
// compact, version-independent records of the objects generic groups are
// built from (Nodes, Namespaces, Services, Pods, Ingresses, Gateways,
// Antrea Egresses, IPPools and ExternalIPPools), their conversion from
// Kubernetes API objects of every version kordon supports, and the loader
// for inventories dumped with kubectl. Kubernetes labels become NSX tags
// here (scope "dis:k8s:<key>", tag "<value>").
//
// It does not decide membership; the membership package reads these
// records.
package inventory
