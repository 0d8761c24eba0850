package apiserver

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/pki"
)

// TestStrictBodies: what encoding/json would take silently is refused,
// naming the problem, and changes nothing.
func TestStrictBodies(t *testing.T) {
	a := newAPI(t, 0)
	rev := a.m.Revision()
	for _, tt := range []struct{ name, body, want string }{
		{"null", `null`, "null"},
		{"duplicate key", `{"expression":[],"expression":[{"resource_type":"IPAddressExpression","ip_addresses":["0.0.0.0/0"]}]}`, `given twice`},
		{"duplicate nested key", `{"expression":[{"resource_type":"IPAddressExpression","ip_addresses":["10.0.0.1"],"ip_addresses":["0.0.0.0/0"]}]}`, "given twice"},
		{"invalid UTF-8", "{\"display_name\":\"\xff\xfe\"}", "UTF-8"},
		{"two documents", `{} {}`, "after top-level value"},
		{"mapped IPv6 that would be all of IPv4", `{"expression":[{"resource_type":"IPAddressExpression","ip_addresses":["::ffff:0.0.0.0/96"]}]}`, "IPv4-mapped"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out := a.do(a.admin, "PATCH", groups+"/g", tt.body)
			if code != 400 || !strings.Contains(out, tt.want) {
				t.Fatalf("%d %s, want 400 with %q", code, out, tt.want)
			}
		})
	}
	for _, path := range []string{"/policy/api/v1/infra", "/policy/api/v1/kordon/tokens", "/policy/api/v1/kordon/explain"} {
		if code, out := a.do(a.admin, "POST", path, `{"a":1,"a":2}`); code != 400 && code != 405 {
			t.Errorf("POST %s with a duplicate key: %d %s", path, code, out)
		}
	}
	if a.m.Revision() != rev {
		t.Fatal("a refused body changed the state")
	}
}

// TestDomainsAndHostileIDs: domains are written through their own paths;
// ids that are not NSX ids never reach a handler.
func TestDomainsAndHostileIDs(t *testing.T) {
	a := newAPI(t, 0)
	dom := "/policy/api/v1/infra/domains/"
	a.expect("PATCH", dom+"lab", `{"display_name":"Lab"}`, 200, `"path": "/infra/domains/lab"`, `"display_name": "Lab"`)
	a.expect("PUT", dom+"lab", `{"_revision":0,"display_name":"Lab 2"}`, 200, `"display_name": "Lab 2"`)
	a.expect("GET", dom+"lab", "", 200, `"Lab 2"`)
	a.expect("GET", dom, "", 200, `"/infra/domains/lab"`, `"/infra/domains/default"`)
	a.expect("DELETE", dom+"lab", "", 200)
	a.expect("GET", dom+"lab", "", 404)
	a.expect("DELETE", dom+"default", "", 400, "default domain cannot be deleted")
	a.expect("DELETE", dom+"nowhere", "", 404, "does not exist")
	a.expect("PATCH", groups+"/..", ipGrp, 400, "segments") // never redirected to the domain
	for _, id := range []string{"%2e%2e", "a%22b", "a%00b", "a%1b%5b31m", "%e2%80%aeexe", "a%2Fb", "a%20b"} {
		if code, out := a.do(a.admin, "PATCH", groups+"/"+id, ipGrp); code != 404 && code != 400 {
			t.Errorf("id %s: %d %s", id, code, out)
		}
	}
	pol := "/policy/api/v1/infra/domains/default/security-policies/p"
	a.expect("PATCH", pol, `{"category":"Application","rules":[{"id":"r","action":"DROP"}]}`, 200)
	a.expect("DELETE", pol+"/rules/..", "", 400, "segments") // never the policy
	a.expect("DELETE", pol+"/rules/%2e%2e", "", 400, "segments")
	a.expect("DELETE", pol+"/rules/.", "", 400, "segments")
	a.expect("GET", pol, "", 200, `"rule_count": 1`)
	a.expect("PATCH", pol, `{"rules":[{"id":"a\"b","action":"DROP"}]}`, 400, "invalid id")
}

// TestTLSSuites: TLS 1.3 is preferred; TLS 1.2 offers forward-secret AEAD
// suites only, so a client that offers only CBC or SHA-1 suites is refused.
func TestTLSSuites(t *testing.T) {
	ca, _ := pki.NewCA("test")
	issued, _ := ca.IssueServer([]string{"127.0.0.1"})
	cert, _ := issued.TLS()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.ServerTLS(cert))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	dial := func(cfg *tls.Config) (*tls.ConnectionState, error) {
		cfg.RootCAs = ca.Pool()
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		st := c.ConnectionState()
		return &st, nil
	}
	if st, err := dial(&tls.Config{}); err != nil || st.Version != tls.VersionTLS13 {
		t.Fatalf("a modern client: %v %+v", err, st)
	}
	if st, err := dial(&tls.Config{MaxVersion: tls.VersionTLS12}); err != nil || st.Version != tls.VersionTLS12 || !strings.Contains(tls.CipherSuiteName(st.CipherSuite), "GCM") && !strings.Contains(tls.CipherSuiteName(st.CipherSuite), "CHACHA20") {
		t.Fatalf("a TLS 1.2 client: %v %+v", err, st)
	}
	for _, suite := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_GCM_SHA256} {
		if _, err := dial(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}}); err == nil {
			t.Errorf("%s was accepted", tls.CipherSuiteName(suite))
		}
	}
}
