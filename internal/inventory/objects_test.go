package inventory

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kordon-dev/kordon/internal/address"
)

func TestTags(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   []Tag
	}{
		{"nil", nil, []Tag{}},
		{"empty", map[string]string{}, []Tag{}},
		{"one", map[string]string{"app": "web"}, []Tag{{"dis:k8s:app", "web"}}},
		{
			name:   "sorted by scope, prefixed keys and empty values kept",
			labels: map[string]string{"tier": "web", "app": "frontend", "kubernetes.io/hostname": "east-node-1", "app.kubernetes.io/name": "shop", "canary": ""},
			want: []Tag{
				{"dis:k8s:app", "frontend"},
				{"dis:k8s:app.kubernetes.io/name", "shop"},
				{"dis:k8s:canary", ""},
				{"dis:k8s:kubernetes.io/hostname", "east-node-1"},
				{"dis:k8s:tier", "web"},
			},
		},
		{"case kept", map[string]string{"Team": "Pay"}, []Tag{{"dis:k8s:Team", "Pay"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Tags(tt.labels)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Tags(%v) = %v, want %v", tt.labels, got, tt.want)
			}
		})
	}
	if TagScopePrefix != "dis:k8s:" {
		t.Errorf("TagScopePrefix = %q, want dis:k8s:", TagScopePrefix)
	}
}

func TestKindNamespaced(t *testing.T) {
	want := map[Kind]bool{
		KindNode: false, KindNamespace: false, KindService: true, KindPod: true, KindIngress: true,
		KindGateway: true, KindEgress: false, KindIPPool: false, KindExternalIPPool: false,
	}
	if len(Kinds) != len(want) {
		t.Fatalf("Kinds has %d kinds, want %d", len(Kinds), len(want))
	}
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) {
			w, ok := want[k]
			if !ok {
				t.Fatalf("unexpected kind %s", k)
			}
			if got := k.Namespaced(); got != w {
				t.Errorf("%s.Namespaced() = %v, want %v", k, got, w)
			}
			o := New(k)
			if o == nil {
				t.Fatalf("New(%s) = nil", k)
			}
			if o.Kind() != k {
				t.Errorf("New(%s).Kind() = %s", k, o.Kind())
			}
			if _, ok := supported[string(k)]; !ok {
				t.Errorf("Convert supports no version of %s", k)
			}
		})
	}
	if o := New("ConfigMap"); o != nil {
		t.Errorf("New(ConfigMap) = %#v, want nil", o)
	}
}

func TestKeyString(t *testing.T) {
	tests := []struct {
		key  Key
		want string
	}{
		{Key{Cluster: "prod-east", Kind: KindNode, Name: "east-node-1"}, "prod-east/Node/east-node-1"},
		{Key{Cluster: "prod-east", Kind: KindService, Namespace: "shop", Name: "frontend"}, "prod-east/Service/shop/frontend"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.key.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyOf(t *testing.T) {
	tests := []struct {
		o    Object
		want Key
	}{
		{&Node{Meta: Meta{Cluster: "c", Name: "n1", UID: "u"}}, Key{"c", KindNode, "", "n1"}},
		{&Pod{Meta: Meta{Cluster: "c", Namespace: "shop", Name: "p"}}, Key{"c", KindPod, "shop", "p"}},
		{&Egress{Meta: Meta{Cluster: "c", Name: "e"}}, Key{"c", KindEgress, "", "e"}},
		{&ExternalIPPool{Meta: Meta{Cluster: "c", Name: "x"}}, Key{"c", KindExternalIPPool, "", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.want.String(), func(t *testing.T) {
			if got := KeyOf(tt.o); got != tt.want {
				t.Errorf("KeyOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Records are written to JSON (e.g. by the CLI); the shape is part of the
// interface.
func TestRecordJSON(t *testing.T) {
	tests := []struct {
		name string
		o    Object
		want string
	}{
		{
			name: "service",
			o: &Service{
				Meta:         Meta{Cluster: "c", Namespace: "shop", Name: "web", Labels: map[string]string{"app": "web"}},
				Type:         ServiceLoadBalancer,
				ClusterIPs:   addrs("10.96.0.1"),
				Ports:        []ServicePort{{Name: "https", Protocol: address.TCP, Port: 443, TargetPort: 8443, NodePort: 31443}},
				LoadBalancer: []LoadBalancerIngress{{IP: ip("192.168.50.10")}, {Hostname: "lb.example.com"}},
			},
			want: `{"cluster":"c","namespace":"shop","name":"web","labels":{"app":"web"},"type":"LoadBalancer","clusterIPs":["10.96.0.1"],` +
				`"ports":[{"name":"https","protocol":"TCP","port":443,"targetPort":8443,"nodePort":31443}],` +
				`"loadBalancer":[{"ip":"192.168.50.10"},{"hostname":"lb.example.com"}]}`,
		},
		{
			name: "egress without status IP",
			o:    &Egress{Meta: Meta{Cluster: "c", Name: "e"}, ExternalIPPool: "p"},
			want: `{"cluster":"c","name":"e","externalIPPool":"p"}`,
		},
		{
			name: "egress whose IP no node took",
			o: &Egress{Meta: Meta{Cluster: "c", Name: "e"}, SpecIP: ip("10.0.0.1"), ExternalIPPool: "p",
				Conditions: []EgressCondition{{Type: EgressIPAssigned, Status: "False", Reason: "AssignmentError", Message: "no Node"}}},
			want: `{"cluster":"c","name":"e","specIP":"10.0.0.1","externalIPPool":"p","conditions":[{"type":"IPAssigned","status":"False","reason":"AssignmentError","message":"no Node"}]}`,
		},
		{
			name: "pod with named ports",
			o: &Pod{Meta: Meta{Cluster: "c", Namespace: "shop", Name: "p"}, NamedPorts: []NamedPort{{Name: "http", Port: 8080, Protocol: address.TCP},
				{Name: "admin", Port: 15000, Protocol: address.TCP, Sidecar: true}}},
			want: `{"cluster":"c","namespace":"shop","name":"p","namedPorts":["http:8080/TCP","admin:15000/TCP/sidecar"]}`,
		},
		{
			name: "ip pool range",
			o:    &IPPool{Meta: Meta{Cluster: "c", Name: "p"}, Ranges: []IPRange{{Start: ip("10.0.0.1"), End: ip("10.0.0.9"), PrefixLength: 24}}},
			want: `{"cluster":"c","name":"p","ranges":[{"start":"10.0.0.1","end":"10.0.0.9","prefixLength":24}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("json.Marshal =\n %s\nwant\n %s", b, tt.want)
			}
			back := New(tt.o.Kind())
			if err := json.Unmarshal(b, back); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(back, tt.o) {
				t.Errorf("round trip = %s, want %s", asJSON(back), asJSON(tt.o))
			}
		})
	}
}

// TestNamedPortJSON: the compact stored form of a named port reads back
// exactly, whatever the name, and malformed forms are refused.
func TestNamedPortJSON(t *testing.T) {
	for _, p := range []NamedPort{
		{Name: "http", Port: 8080, Protocol: address.TCP},
		{Name: "dns", Port: 53, Protocol: address.UDP, Sidecar: true},
		{Name: "a:1/TCP", Port: 65535, Protocol: address.SCTP},
		{Name: "x/sidecar", Port: 1, Protocol: address.TCP},
		{Name: "", Port: 80, Protocol: address.TCP},
	} {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back NamedPort
		if err := json.Unmarshal(b, &back); err != nil || back != p {
			t.Errorf("%+v -> %s -> %+v, %v", p, b, back, err)
		}
	}
	for _, bad := range []string{`"http"`, `"http:80"`, `"http/TCP"`, `"http:0/TCP"`, `"http:70000/TCP"`, `"http:80/ICMP"`, `"http:x/TCP"`, `{"name":"http"}`, `"http:80/TCP/sidecar/sidecar"`} {
		var p NamedPort
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("%s read as %+v", bad, p)
		}
	}
}
