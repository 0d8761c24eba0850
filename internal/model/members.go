package model

// The effective-member shapes NSX returns from
// .../groups/{id}/members/<type> (nsx-api.md §2.2). Cluster-scoped member
// types list members per cluster, namespace-scoped ones per cluster and
// namespace. Fields marked as kordon extensions carry what NSX's shapes
// cannot (several egress IPs, NodePort endpoints).

// PolicyKubernetesService is a Service member.
type PolicyKubernetesService struct {
	DisplayName            string                      `json:"display_name"`
	ExternalID             string                      `json:"external_id"`
	Type                   string                      `json:"type"`
	ClusterIPs             []string                    `json:"cluster_ips"`
	LoadBalanceIngresses   []PolicyLoadBalancerIngress `json:"load_balance_ingresses"`
	NodePortLocalEndpoints []PolicyNodePortEndpoint    `json:"node_port_local_endpoints"`
	// NodePortEndpoints is a kordon extension: the node IP + node port
	// members of a NodePort Service.
	NodePortEndpoints []PolicyNodePortEndpoint `json:"node_port_endpoints,omitempty"`
}

// PolicyLoadBalancerIngress is one load-balancer ingress point.
type PolicyLoadBalancerIngress struct {
	LoadBalancerIngressIP string              `json:"load_balancer_ingress_ip,omitempty"`
	Hostname              string              `json:"hostname,omitempty"`
	Ports                 []PolicyIngressPort `json:"ports,omitempty"`
}

// PolicyIngressPort is a port a load balancer reports.
type PolicyIngressPort struct {
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
}

// PolicyNodePortEndpoint is a node IP and port (NodePortLocal, NodePort).
type PolicyNodePortEndpoint struct {
	NodeIP   string `json:"node_ip"`
	NodePort string `json:"node_port"`
	Protocol string `json:"protocol"`
}

// PolicyKubernetesIngress is an Ingress member.
type PolicyKubernetesIngress struct {
	DisplayName                   string   `json:"display_name"`
	ExternalID                    string   `json:"external_id"`
	LoadBalanceIngressIPAddresses []string `json:"load_balance_ingress_ip_addresses"`
}

// PolicyKubernetesGateway is a Gateway member.
type PolicyKubernetesGateway struct {
	DisplayName        string   `json:"display_name"`
	ExternalID         string   `json:"external_id"`
	GatewayIPAddresses []string `json:"gateway_ip_addresses"`
}

// PolicyAntreaEgress is an Egress member. NSX has one egress_ip; EgressIPs
// (a kordon extension) lists every IP the Egress names.
type PolicyAntreaEgress struct {
	DisplayName string   `json:"display_name"`
	ExternalID  string   `json:"external_id"`
	EgressIP    string   `json:"egress_ip"`
	EgressIPs   []string `json:"egress_ips,omitempty"`
}

// PolicyAntreaIPPool is an IPPool member.
type PolicyAntreaIPPool struct {
	DisplayName string                    `json:"display_name"`
	ExternalID  string                    `json:"external_id"`
	IPRanges    []PolicyAntreaIPPoolRange `json:"ip_ranges"`
}

// PolicyAntreaIPPoolRange is one range of an IP pool.
type PolicyAntreaIPPoolRange struct {
	CIDR         string `json:"cidr,omitempty"`
	Start        string `json:"start,omitempty"`
	End          string `json:"end,omitempty"`
	Gateway      string `json:"gateway,omitempty"`
	PrefixLength int32  `json:"prefix_length,omitempty"`
	VLAN         int32  `json:"vlan,omitempty"`
}

// PolicyKubernetesNode is a node member: by IP (kubernetes-node-ips,
// PolicyKubernetesNode in NSX) or by pod CIDR (kubernetes-node-pod-cidrs,
// PolicyKubernetesNodePodCidr); each endpoint fills one of the lists.
type PolicyKubernetesNode struct {
	DisplayName string   `json:"display_name"`
	ExternalID  string   `json:"external_id"`
	IPAddresses []string `json:"ip_addresses,omitempty"`
	PodCidrs    []string `json:"pod_cidrs,omitempty"`
}

// MemberNamespace holds the namespace-scoped members of one namespace.
type MemberNamespace struct {
	DisplayName         string                    `json:"display_name"`
	ExternalID          string                    `json:"external_id"`
	KubernetesServices  []PolicyKubernetesService `json:"kubernetes_services,omitempty"`
	KubernetesIngresses []PolicyKubernetesIngress `json:"kubernetes_ingresses,omitempty"`
	KubernetesGateways  []PolicyKubernetesGateway `json:"kubernetes_gateways,omitempty"`
}

// MemberCluster holds one cluster's members of one member type.
type MemberCluster struct {
	DisplayName     string                 `json:"display_name"`
	ExternalID      string                 `json:"external_id"`
	Namespaces      []MemberNamespace      `json:"namespaces,omitempty"`
	AntreaEgresses  []PolicyAntreaEgress   `json:"antrea_egresses,omitempty"`
	AntreaIPPools   []PolicyAntreaIPPool   `json:"antrea_ip_pools,omitempty"`
	KubernetesNodes []PolicyKubernetesNode `json:"kubernetes_nodes,omitempty"`
}

// MemberList is one element of a members endpoint's results: the
// clusters holding members.
type MemberList struct {
	Clusters []MemberCluster `json:"clusters"`
}

// Member endpoint names (the suffix after .../members/).
const (
	MembersKubernetesServices    = "kubernetes-services"
	MembersKubernetesIngresses   = "kubernetes-ingresses"
	MembersKubernetesGateways    = "kubernetes-gateways"
	MembersAntreaEgresses        = "antrea-egresses"
	MembersAntreaIPPools         = "antrea-ip-pools"
	MembersKubernetesNodeIPs     = "kubernetes-node-ips"
	MembersKubernetesNodePodCIDR = "kubernetes-node-pod-cidrs"
)
