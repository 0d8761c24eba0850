package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestMutualTLS serves with an issued server certificate, requires client
// certificates from the same CA, and checks who gets through.
func TestMutualTLS(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewCA("another CA")
	srvCert, err := ca.IssueServer([]string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := srvCert.TLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	srv.StartTLS()
	defer srv.Close()
	get := func(client Issued) (string, error) {
		c, err := client.TLS()
		if err != nil {
			return "", err
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{c}}}}
		resp, err := hc.Get(srv.URL)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		return string(b[:n]), nil
	}
	good, _ := ca.IssueClient("prod-east", "cluster", 5)
	if cn, err := get(good); err != nil || cn != "prod-east" {
		t.Fatalf("a client of the CA: %q %v", cn, err)
	}
	bad, _ := other.IssueClient("prod-east", "cluster", 5)
	if _, err := get(bad); err == nil {
		t.Fatal("a client certificate of another CA was accepted")
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || leaf.DNSNames[0] != "localhost" {
		t.Errorf("server SANs = %v %v", leaf.IPAddresses, leaf.DNSNames)
	}
	if s, err := SerialOf(good.CertPEM); err != nil || s == "" {
		t.Errorf("SerialOf = %q %v", s, err)
	}
}

func TestTokens(t *testing.T) {
	a, ha := NewToken()
	b, hb := NewToken()
	if a == b || ha == hb || len(a) < 40 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if !SameHash(HashToken(a), ha) || SameHash(HashToken(a), hb) {
		t.Fatal("hash comparison is wrong")
	}
}
