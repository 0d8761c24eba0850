package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "config.yaml")
	want := Config{Server: "https://k:8443", CA: "-----BEGIN CERTIFICATE-----\n", Token: "kdn_x"}
	if err := WriteConfig(p, want); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v: a file holding a token must be private", st.Mode())
	}
	got, err := ReadConfig(p)
	if err != nil || got != want {
		t.Fatalf("ReadConfig = %+v %v", got, err)
	}
	t.Setenv("KORDON_CONFIG", p)
	if got, from, err := LoadConfig(); err != nil || from != p || got != want {
		t.Fatalf("LoadConfig = %+v %s %v", got, from, err)
	}
	os.WriteFile(p, []byte("server: x\ntokn: y\n"), 0o600)
	if _, err := ReadConfig(p); err == nil || !strings.Contains(err.Error(), "tokn") {
		t.Errorf("a misspelt field: %v", err)
	}
	t.Setenv("KORDON_CONFIG", filepath.Join(dir, "none.yaml"))
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
	if _, _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "kordon login") {
		t.Errorf("no configuration anywhere: %v", err)
	}
}

func TestErrors(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			w.WriteHeader(401)
			w.Write([]byte(`{"httpStatus":"UNAUTHORIZED","error_code":401001,"error_message":"the token is not valid"}`))
			return
		}
		if r.URL.Path == "/plain" {
			w.WriteHeader(502)
			w.Write([]byte("upstream down"))
			return
		}
		w.WriteHeader(400)
		w.Write([]byte(`{"error_message":"invalid","related_errors":[{"error_message":"a: b: c"}]}`))
	}))
	defer srv.Close()
	c, err := New(Config{Server: srv.URL, Token: "bad", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	var e *Error
	if err := c.Do(context.Background(), "GET", "/x", nil, nil); !errors.As(err, &e) || e.Status != 401 || e.Message != "the token is not valid" {
		t.Fatalf("401: %v", err)
	}
	c, _ = New(Config{Server: srv.URL, Token: "good", InsecureSkipVerify: true})
	if err := c.Do(context.Background(), "GET", "/x", nil, nil); !errors.As(err, &e) || e.Error() != "invalid:\n  a: b: c" {
		t.Fatalf("400: %v", err)
	}
	if err := c.Do(context.Background(), "GET", "/plain", nil, nil); !errors.As(err, &e) || !strings.Contains(e.Message, "upstream down") {
		t.Fatalf("502: %v", err)
	}
	if _, err := New(Config{Server: srv.URL, CA: "not a pem"}); err == nil {
		t.Error("a bad CA was accepted")
	}
	noCA, _ := New(Config{Server: srv.URL, Token: "good"})
	if err := noCA.Do(context.Background(), "GET", "/x", nil, nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an unknown CA must fail verification: %v", err)
	}
}
