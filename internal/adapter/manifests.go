package adapter

import (
	"bytes"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/kordon-dev/kordon/internal/wire"
)

// Rules are the permissions the adapter needs: read and watch exactly the
// kinds it reports. Discovery needs none beyond an authenticated user's.
func Rules() []rbacv1.PolicyRule {
	verbs := []string{"get", "list", "watch"}
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes", "namespaces", "services", "pods"}, Verbs: verbs},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: verbs},
	}
	byGroup := map[string][]string{}
	var groups []string
	for _, ck := range crdKinds {
		if _, ok := byGroup[ck.group]; !ok {
			groups = append(groups, ck.group)
		}
		byGroup[ck.group] = append(byGroup[ck.group], ck.resource)
	}
	for _, g := range groups {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: byGroup[g], Verbs: verbs})
	}
	return rules
}

// ManifestOptions shape the manifests of a cluster's adapter.
type ManifestOptions struct {
	Bundle    wire.Bundle
	Image     string
	Namespace string
}

// Manifests returns what to `kubectl apply` in a cluster so kordon's
// adapter runs there: a namespace, a ServiceAccount, a ClusterRole with
// the adapter's Rules and its binding, a Secret holding the bundle, and a
// Deployment of one replica (two adapters of one cluster would only
// contend).
func Manifests(o ManifestOptions) ([]byte, error) {
	if o.Namespace == "" {
		o.Namespace = "kordon-system"
	}
	if o.Image == "" {
		return nil, fmt.Errorf("an image is needed")
	}
	bundle, err := yaml.Marshal(o.Bundle)
	if err != nil {
		return nil, err
	}
	const name = "kordon-adapter"
	labels := map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "kordon"}
	om := func(n string, namespaced bool) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: n, Labels: labels}
		if namespaced {
			m.Namespace = o.Namespace
		}
		return m
	}
	one, no, yes, uid := int32(1), false, true, int64(65532)
	objs := []runtime.Object{
		&corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: om(o.Namespace, false)},
		&corev1.ServiceAccount{TypeMeta: tm("v1", "ServiceAccount"), ObjectMeta: om(name, true)},
		&rbacv1.ClusterRole{TypeMeta: tm("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: om(name, false), Rules: Rules()},
		&rbacv1.ClusterRoleBinding{TypeMeta: tm("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: om(name, false),
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: o.Namespace}}},
		&corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: om(name, true), Type: corev1.SecretTypeOpaque,
			StringData: map[string]string{"bundle.yaml": string(bundle)}},
		&appsv1.Deployment{TypeMeta: tm("apps/v1", "Deployment"), ObjectMeta: om(name, true), Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: name,
					// The group too: with a user alone, the runtime gives the process group 0.
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name:  "adapter",
						Image: o.Image,
						Args:  []string{"adapter", "--bundle", "/etc/kordon/bundle.yaml"},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
						},
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
						VolumeMounts: []corev1.VolumeMount{{Name: "bundle", MountPath: "/etc/kordon", ReadOnly: true}},
					}},
					Volumes: []corev1.Volume{{Name: "bundle", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}}},
				},
			},
		}},
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# kordon adapter for cluster %q, reporting to %s.\n# The Secret holds the cluster's private key: keep this output as secret as the key.\n", o.Bundle.Cluster, o.Bundle.Server)
	for _, obj := range objs {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		buf.WriteString("---\n")
		buf.Write(bytes.ReplaceAll(b, []byte("  creationTimestamp: null\n"), nil))
	}
	return buf.Bytes(), nil
}

func tm(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// RestConfig finds the cluster to watch: the kubeconfig file given, else
// the in-cluster service account, else the usual kubeconfig locations
// ($KUBECONFIG, ~/.kube/config).
func RestConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	if cfg, err := rest.InClusterConfig(); err == nil {
		return cfg, nil
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to watch: not in a cluster, and no kubeconfig (%v)", err)
	}
	return cfg, nil
}

// WithClients fills o's Kubernetes clients from a REST configuration.
// Typed lists and watches use protobuf, which costs a large cluster's
// adapter far less than JSON; CRDs only speak JSON.
func (o *Options) WithClients(cfg *rest.Config) error {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "kordon-adapter"
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 20, 40
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	pb := rest.CopyConfig(cfg)
	pb.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	pb.ContentType = "application/vnd.kubernetes.protobuf"
	kube, err := kubernetes.NewForConfig(pb)
	if err != nil {
		return err
	}
	o.Kube, o.Dynamic, o.Discovery = kube, dyn, disc
	return nil
}
