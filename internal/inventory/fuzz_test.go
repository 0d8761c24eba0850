package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kordon-dev/kordon/internal/textdoc"
)

func FuzzParseNPL(f *testing.F) {
	for _, s := range []string{
		``,
		`[]`,
		`null`,
		`[{"podPort":8080,"nodeIP":"10.10.1.11","nodePort":61001,"protocol":"tcp","ipFamily":"IPv4"}]`,
		`[{"podPort":8080,"nodeIP":"10.10.1.11","nodePort":61001,"protocol":"tcp","ipFamily":"IPv4"},{"podPort":8080,"nodeIP":"fd00::11","nodePort":61001,"protocol":"tcp","ipFamily":"IPv6"}]`,
		`[{"podPort":53,"nodeIP":"10.0.0.1","nodePort":61053,"protocols":["udp","tcp"]}]`,
		`[{"podPort":80,"nodeIP":"10.0.0.1","nodePort":0}]`,
		`[{"podPort":80,"nodeIP":"::ffff:10.0.0.1","nodePort":65535,"protocol":"SCTP"}]`,
		`[{"podPort":80,"nodeIP":"10.0.0.1","nodePort":61000,"protocol":"icmp"}]`,
		`[{"podPort":"80"}]`,
		`{"podPort":8080}`,
		`[1, "a", null, {}]`,
		`[{"nodeIP":"fe80::1%eth0","nodePort":1}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseNPL(s)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseNPL(%q) = %v with error %v", s, got, err)
			}
			return
		}
		for i, m := range got {
			if m.NodePort < 1 || m.NodePort > 65535 {
				t.Fatalf("ParseNPL(%q)[%d] has node port %d", s, i, m.NodePort)
			}
			if !m.NodeIP.IsValid() || m.NodeIP.Is4In6() {
				t.Fatalf("ParseNPL(%q)[%d] has node IP %v", s, i, m.NodeIP)
			}
			if !m.Protocol.HasPorts() {
				t.Fatalf("ParseNPL(%q)[%d] has protocol %v", s, i, m.Protocol)
			}
		}
	})
}

// FuzzConvert feeds the same JSON to Convert as every supported kind and
// version: it must never panic, and what it returns must be consistent.
func FuzzConvert(f *testing.F) {
	seeds := []string{
		`{}`,
		`null`,
		`[]`,
		`{"metadata":{"name":"x"}}`,
		`{"metadata":{"name":"x","namespace":"ns","labels":{"a":"b"},"annotations":{"nodeportlocal.antrea.io":"[{\"podPort\":80,\"nodeIP\":\"10.0.0.1\",\"nodePort\":61000,\"protocols\":[\"tcp\",\"udp\"]}]","ipam.antrea.io/ippools":"a,b","nodeportlocal.antrea.io/enabled":"True"}}}`,
		`{"metadata":{"name":"x"},"spec":{"podCIDR":"10.0.0.0/24","podCIDRs":["10.0.0.0/24","fd00::/64"]},"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.1"},{"type":"ExternalIP","address":"x"}]}}`,
		`{"metadata":{"name":"x"},"spec":{"type":"LoadBalancer","clusterIPs":["None","10.96.0.1"],"ports":[{"port":80,"targetPort":"http"},{"port":53,"protocol":"UDP","targetPort":53,"nodePort":30053}]},"status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4","hostname":"h","ports":[{"port":80,"protocol":"TCP"}]}]}}}`,
		`{"metadata":{"name":"x"},"spec":{"hostNetwork":true,"nodeName":"n"},"status":{"podIP":"10.0.0.5","podIPs":[{"ip":"10.0.0.5"},{"ip":"fd00::5"}]}}`,
		`{"metadata":{"name":"x"},"spec":{"ingressClassName":"nginx","tls":[{}],"defaultBackend":{"service":{"name":"s","port":{"name":"http"}}},"rules":[{"http":{"paths":[{"backend":{"service":{"name":"t","port":{"number":80}}}},{"backend":{"resource":{"kind":"B","name":"b"}}}]}},{}]}}`,
		`{"metadata":{"name":"x"},"spec":{"gatewayClassName":"c","listeners":[{"name":"l","port":443,"protocol":"HTTPS"}]},"status":{"addresses":[{"value":"10.0.0.1"},{"type":"Hostname","value":"h"},{"type":"x.io/IPAddress","value":"fd00::1"},{"type":"NamedAddress","value":"n"}]}}`,
		`{"metadata":{"name":"x"},"spec":{"appliedTo":{"podSelector":{"matchLabels":{"a":"b"}},"namespaceSelector":{}},"egressIP":"10.0.0.1","egressIPs":["10.0.0.2"],"externalIPPool":"p","externalIPPools":["q"]},"status":{"egressNode":"n","egressIP":"10.0.0.3","egressIPs":["10.0.0.4"]}}`,
		`{"metadata":{"name":"x"},"spec":{"ipVersion":4,"ipRanges":[{"cidr":"10.0.0.0/24"},{"start":"10.0.1.1","end":"10.0.1.9","gateway":"10.0.1.254","prefixLength":24,"vlan":7}],"subnetInfo":{"gateway":"10.0.0.1","prefixLength":24,"vlan":100},"nodeSelector":{"matchExpressions":[{"key":"k","operator":"Exists"}]}}}`,
		`{"metadata":{"name":"x","creationTimestamp":"2024-01-01T00:00:00Z"},"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"500m","memory":"1Gi"}}}]}}`,
		`{"metadata":{"name":"x"},"spec":{"ports":[{"port":"80"}]}}`,
		`{"metadata":{"name":1}}`,
	}
	// The example inventory's objects are realistic seeds too.
	root := filepath.Join("..", "..", "examples", "inventory")
	_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !isManifest(p) {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		docs, _ := textdoc.Split(p, data)
		for _, d := range docs {
			seeds = append(seeds, string(d.JSON))
		}
		return nil
	})
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range Kinds {
			kind := string(k)
			for _, v := range supported[kind] {
				o, err := Convert("c", Source{APIVersion: v, Kind: kind}, data)
				if err != nil {
					if o != nil {
						t.Fatalf("Convert(%s %s) returned %#v with error %v", kind, v, o, err)
					}
					if errors.Is(err, ErrIgnored) {
						t.Fatalf("Convert(%s %s) = ErrIgnored for a supported version", kind, v)
					}
					continue
				}
				if string(o.Kind()) != kind {
					t.Fatalf("Convert(%s %s) returned a %s", kind, v, o.Kind())
				}
				m := o.GetMeta()
				if m.Cluster != "c" || m.Name == "" {
					t.Fatalf("Convert(%s %s): bad meta %+v", kind, v, m)
				}
				if o.Kind().Namespaced() != (m.Namespace != "") {
					t.Fatalf("Convert(%s %s): namespace %q", kind, v, m.Namespace)
				}
				if e, ok := o.(*Egress); ok {
					eff := e.Effect()
					if len(eff.IPs) > 1 || (len(eff.IPs) == 0) == (eff.Why == "") {
						t.Fatalf("Egress.Effect() = %+v: one IP in effect, or none and why", eff)
					}
					for i := 1; i < len(eff.Named); i++ {
						if !eff.Named[i-1].Less(eff.Named[i]) {
							t.Fatalf("Egress.Effect().Named not sorted and unique: %v", eff.Named)
						}
					}
				}
				_ = KeyOf(o).String()
				_ = Tags(m.Labels)
			}
		}
	})
}
