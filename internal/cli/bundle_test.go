package cli

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/wire"
)

// TestBundleToStdout: --bundle-out - writes the bundle, and nothing else,
// to standard output (kubectl exec ... > FILE, from a manager in a pod),
// the messages to standard error; a file keeps them on standard output.
func TestBundleToStdout(t *testing.T) {
	r := newRemote(t, false)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"cluster", []string{"cluster", "register", "east-9", "--bundle-out", "-"}},
		{"agent", []string{"agent", "register", "vm-9", "--role", "vm", "--bundle-out", "-"}},
		{"cluster rotate", []string{"cluster", "rotate", "east-9", "--bundle-out", "-"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := r.run(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, out, errOut)
			}
			var b wire.Bundle
			if err := yaml.UnmarshalStrict([]byte(out), &b); err != nil || b.Server == "" || b.Key == "" {
				t.Fatalf("standard output is not the bundle alone (%v):\n%s", err, out)
			}
			if !strings.Contains(errOut, "written to standard output") {
				t.Errorf("standard error: %q", errOut)
			}
		})
	}
	file := filepath.Join(t.TempDir(), "west.bundle")
	out := r.ok(t, "cluster", "register", "west-9", "--bundle-out", file)
	if !strings.Contains(out, "written to "+file) {
		t.Errorf("with a file: %s", out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the bundle file: %v %v", fi, err)
	}
}

// TestCA: kordon ca prints the data directory's CA certificate, and
// nothing else (not a key, not a file that is no certificate).
func TestCA(t *testing.T) {
	ca, err := pki.NewCA("kordon CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cases := []struct {
		name, file string
		code       int
		want       string
	}{
		{"the CA", string(ca.CertPEM), 0, ""},
		{"missing", "", 1, "a manager's data directory"},
		{"not PEM", "hello", 1, "not one PEM certificate"},
		{"a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 1, "not one PEM certificate"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			d := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			os.MkdirAll(d, 0o700)
			if tt.file != "" {
				os.WriteFile(filepath.Join(d, "ca.crt"), []byte(tt.file), 0o644)
			}
			out, errOut, code := run(t, "ca", "--data-dir", d)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if code != 0 {
				return
			}
			blk, _ := pem.Decode([]byte(out))
			if blk == nil {
				t.Fatalf("not PEM: %q", out)
			}
			if c, err := x509.ParseCertificate(blk.Bytes); err != nil || !c.IsCA {
				t.Fatalf("not the CA: %v", err)
			}
		})
	}
}
