package license

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"
)

func TestSignVerifyGrant(t *testing.T) {
	pub, priv, _ := GenerateKey()
	otherPub, _, _ := GenerateKey()
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	l, err := Sign(License{ID: "acme-1", Licensee: "ACME", Features: []string{DFW}, NotBefore: now, Expires: now.AddDate(1, 0, 0)}, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(l, []ed25519.PublicKey{pub}); err != nil {
		t.Fatal(err)
	}
	if err := Verify(l, []ed25519.PublicKey{otherPub}); err == nil || !strings.Contains(err.Error(), "not from a trusted key") {
		t.Fatalf("untrusted key: %v", err)
	}
	tampered := l
	tampered.Features = []string{DFW, GFW}
	if err := Verify(tampered, []ed25519.PublicKey{pub}); err == nil {
		t.Fatal("a tampered license verified")
	}
	for _, tt := range []struct {
		feature string
		at      time.Time
		want    string
	}{
		{DFW, now.AddDate(0, 6, 0), ""},
		{GFW, now.AddDate(0, 6, 0), "does not include the GFW entitlement"},
		{DFW, now.AddDate(2, 0, 0), "expired on 2027-11-25"},
		{DFW, now.Add(-time.Hour), "not valid before"},
	} {
		err := l.Grants(tt.feature, tt.at)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Grants(%s, %s) = %v, want %q", tt.feature, tt.at, err, tt.want)
		}
	}
	var none *License
	if err := none.Grants(DFW, now); err == nil || !strings.Contains(err.Error(), "no license is installed") {
		t.Errorf("nil license: %v", err)
	}
	// PEM round trips.
	p2, err := ParsePublicKey(MarshalPublicKey(pub))
	if err != nil || !p2.Equal(pub) {
		t.Fatal(err)
	}
	k2, err := ParsePrivateKey(MarshalPrivateKey(priv))
	if err != nil || !k2.Equal(priv) {
		t.Fatal(err)
	}
}

func TestParseAndCheck(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{`{"id":"a","features":["DFW"],"not_before":"2026-01-01T00:00:00Z","expires":"2027-01-01T00:00:00Z","key_id":"x","signature":"AA=="}`, ""},
		{`{"id":"a","features":["IDS"],"not_before":"2026-01-01T00:00:00Z","expires":"2027-01-01T00:00:00Z"}`, `unknown feature "IDS"`},
		{`{"id":"a","features":[],"not_before":"2026-01-01T00:00:00Z","expires":"2027-01-01T00:00:00Z"}`, "at least one feature"},
		{`{"features":["DFW"],"not_before":"2026-01-01T00:00:00Z","expires":"2027-01-01T00:00:00Z"}`, "id is required"},
		{`{"id":"a","features":["DFW"],"not_before":"2027-01-01T00:00:00Z","expires":"2026-01-01T00:00:00Z"}`, "expires must be after"},
		{`{"id":"a","feature":["DFW"]}`, "unknown field"},
		{`not json`, "license:"},
	} {
		_, err := Parse([]byte(tt.doc))
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Parse(%s) = %v, want %q", tt.doc, err, tt.want)
		}
	}
}

func TestEvaluation(t *testing.T) {
	now := time.Now()
	l, pub, err := Evaluation(60, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(l, []ed25519.PublicKey{pub}); err != nil {
		t.Fatal(err)
	}
	if !l.Evaluation || l.Grants(GFW, now.AddDate(0, 0, 59)) != nil || l.Grants(DFW, now.AddDate(0, 0, 61)) == nil {
		t.Errorf("evaluation license = %+v", l)
	}
}
