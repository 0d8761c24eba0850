package model

import (
	"strings"
	"testing"
)

func TestParsePathRoundTrip(t *testing.T) {
	const proj = "/orgs/default/projects/dev"
	tests := []struct {
		name   string
		path   string
		want   Ref
		parent string
	}{
		{"domain", "/infra/domains/default", Ref{Domain: "default", Kind: KindDomain}, "/infra"},
		{"other domain", "/infra/domains/prod", Ref{Domain: "prod", Kind: KindDomain}, "/infra"},
		{"group", "/infra/domains/default/groups/web", Ref{Domain: "default", Kind: KindGroup, ID: "web"}, "/infra/domains/default"},
		{"service", "/infra/services/HTTP", Ref{Kind: KindService, ID: "HTTP"}, "/infra"},
		{"security policy", "/infra/domains/default/security-policies/app", Ref{Domain: "default", Kind: KindSecurityPolicy, ID: "app"}, "/infra/domains/default"},
		{"gateway policy", "/infra/domains/d2/gateway-policies/edge", Ref{Domain: "d2", Kind: KindGatewayPolicy, ID: "edge"}, "/infra/domains/d2"},
		{"dfw rule", "/infra/domains/default/security-policies/app/rules/r1",
			Ref{Domain: "default", Kind: KindRule, ID: "r1", Policy: "app", PolicyKind: KindSecurityPolicy},
			"/infra/domains/default/security-policies/app"},
		{"gfw rule", "/infra/domains/default/gateway-policies/edge/rules/r2",
			Ref{Domain: "default", Kind: KindRule, ID: "r2", Policy: "edge", PolicyKind: KindGatewayPolicy},
			"/infra/domains/default/gateway-policies/edge"},
		{"tier-0", "/infra/tier-0s/t0", Ref{Kind: KindTier0, ID: "t0"}, "/infra"},
		{"tier-1", "/infra/tier-1s/t1-edge", Ref{Kind: KindTier1, ID: "t1-edge"}, "/infra"},
		{"project domain", proj + "/infra/domains/default", Ref{Project: "dev", Domain: "default", Kind: KindDomain}, proj + "/infra"},
		{"project group", proj + "/infra/domains/default/groups/g", Ref{Project: "dev", Domain: "default", Kind: KindGroup, ID: "g"}, proj + "/infra/domains/default"},
		{"project service", proj + "/infra/services/s", Ref{Project: "dev", Kind: KindService, ID: "s"}, proj + "/infra"},
		{"project security policy", proj + "/infra/domains/default/security-policies/p", Ref{Project: "dev", Domain: "default", Kind: KindSecurityPolicy, ID: "p"}, proj + "/infra/domains/default"},
		{"project gateway policy", proj + "/infra/domains/default/gateway-policies/p", Ref{Project: "dev", Domain: "default", Kind: KindGatewayPolicy, ID: "p"}, proj + "/infra/domains/default"},
		{"project dfw rule", proj + "/infra/domains/default/security-policies/p/rules/r",
			Ref{Project: "dev", Domain: "default", Kind: KindRule, ID: "r", Policy: "p", PolicyKind: KindSecurityPolicy},
			proj + "/infra/domains/default/security-policies/p"},
		{"project gfw rule", proj + "/infra/domains/default/gateway-policies/p/rules/r",
			Ref{Project: "dev", Domain: "default", Kind: KindRule, ID: "r", Policy: "p", PolicyKind: KindGatewayPolicy},
			proj + "/infra/domains/default/gateway-policies/p"},
		{"project tier-0", proj + "/infra/tier-0s/t0", Ref{Project: "dev", Kind: KindTier0, ID: "t0"}, proj + "/infra"},
		{"project tier-1", proj + "/infra/tier-1s/t1", Ref{Project: "dev", Kind: KindTier1, ID: "t1"}, proj + "/infra"},
		// Ids that look like keywords are ids.
		{"group named rules", "/infra/domains/default/groups/rules", Ref{Domain: "default", Kind: KindGroup, ID: "rules"}, "/infra/domains/default"},
		{"domain named groups", "/infra/domains/groups/groups/x", Ref{Domain: "groups", Kind: KindGroup, ID: "x"}, "/infra/domains/groups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePath(tt.path)
			if err != nil {
				t.Fatalf("ParsePath(%q): %v", tt.path, err)
			}
			if got != tt.want {
				t.Errorf("ParsePath(%q) = %+v, want %+v", tt.path, got, tt.want)
			}
			if p := got.Path(); p != tt.path {
				t.Errorf("Path() = %q, want %q", p, tt.path)
			}
			if p := got.Parent(); p != tt.parent {
				t.Errorf("Parent() = %q, want %q", p, tt.parent)
			}
			// Ref.Path of the wanted Ref gives the path back, too.
			if p := tt.want.Path(); p != tt.path {
				t.Errorf("want.Path() = %q, want %q", p, tt.path)
			}
		})
	}
}

func TestParsePathMalformed(t *testing.T) {
	tests := []struct {
		name, path, reason string
	}{
		{"empty", "", "must start with /infra/"},
		{"root only", "/infra", "must start with /infra/"},
		{"root slash", "/infra/", "empty path segment"},
		{"relative", "infra/services/x", "must start with /infra/"},
		{"api prefix", "/policy/api/v1/infra/services/x", "must start with /infra/"},
		{"trailing slash", "/infra/services/x/", "empty path segment"},
		{"double slash", "/infra//services/x", "empty path segment"},
		{"service without id", "/infra/services", "not a path to a domain"},
		{"service entry", "/infra/services/x/service-entries/e", "not a path to a domain"},
		{"unknown collection", "/infra/segments/s", "not a path to a domain"},
		{"tier-0 too deep", "/infra/tier-0s/t0/locale-services/x", "not a path to a domain"},
		{"domains without id", "/infra/domains", "not a path to a domain"},
		{"group without id", "/infra/domains/default/groups", "not a path to a domain, group, policy or rule"},
		{"unknown domain collection", "/infra/domains/default/widgets/x", "not a path to a domain, group, policy or rule"},
		{"rules without id", "/infra/domains/default/security-policies/p/rules", "not a path to a domain, group, policy or rule"},
		{"group rules", "/infra/domains/default/groups/g/rules/r", "not a path to a domain, group, policy or rule"},
		{"rule too deep", "/infra/domains/default/security-policies/p/rules/r/x", "not a path to a domain, group, policy or rule"},
		{"project without infra", "/orgs/default/projects/dev", "project path has no /infra part"},
		{"project empty name", "/orgs/default/projects//infra/services/x", "project path has no /infra part"},
		{"project no infra", "/orgs/default/projects/dev/services/x", "must start with /infra/"},
		{"other org", "/orgs/acme/projects/dev/infra/services/x", "must start with /infra/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParsePath(tt.path)
			if err == nil {
				t.Fatalf("ParsePath(%q) = %+v, want an error", tt.path, r)
			}
			if !strings.Contains(err.Error(), tt.reason) || !strings.Contains(err.Error(), "path \""+tt.path+"\"") {
				t.Errorf("ParsePath(%q) error %q, want it to name the path and contain %q", tt.path, err, tt.reason)
			}
		})
	}
}

func TestRefPathUnknownKind(t *testing.T) {
	if p := (Ref{Kind: "Segment", ID: "x"}).Path(); p != "" {
		t.Errorf("Path() of an unknown kind = %q, want empty", p)
	}
	if p := (Ref{Kind: "Segment", ID: "x", Project: "p"}).Parent(); p != "/orgs/default/projects/p/infra" {
		t.Errorf("Parent() = %q", p)
	}
}

func TestPathHelpers(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"GroupPath", GroupPath("default", "web"), "/infra/domains/default/groups/web"},
		{"GroupPath other domain", GroupPath("d", "g"), "/infra/domains/d/groups/g"},
		{"ServicePath", ServicePath("HTTP"), "/infra/services/HTTP"},
		{"Space default", Space(""), ""},
		{"Space project", Space("dev"), "/orgs/default/projects/dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"web", true},
		{"web-1_a.b", true},
		{"_private", true},
		{"urn:vm:1", true},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a", 256), false},
		{"", false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{"-flag", false},
		{"ÜberGroup", false}, // ASCII only: ids are path segments, keys and nftables comments
		{"a/b", false},
		{"a b", false},
		{"a\tb", false},
		{"a\nb", false},
		{"a\rb", false},
		{"a?b", false},
		{"a#b", false},
		{"a%b", false},
		{`a"b`, false},
		{"a\x00b", false},
		{"a\x1b[31mb", false},
		{"a\u202eb", false},
		{"a\\b", false},
		{"a'b", false},
		{"a;b", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := ValidID(tt.id); got != tt.want {
				t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestCheckText(t *testing.T) {
	for _, tt := range []struct {
		s         string
		max       int
		multiline bool
		bad       string
	}{
		{"Web servers (prod)", 255, false, ""},
		{"Grüße, 東京", 255, false, ""},
		{"two\nlines", 255, true, ""},
		{"two\nlines", 255, false, "control character"},
		{strings.Repeat("x", 256), 255, false, "at most 255"},
		{"nul\x00", 255, false, "control character"},
		{"esc\x1b[2J", 255, false, "control character"},
		{"c1\u0085", 255, false, "control character"},
		{"rlo\u202etxt.exe", 255, false, "bidirectional"},
		{"iso\u2066x", 255, false, "bidirectional"},
		{"zw\u200bj", 255, false, "invisible"},
		{"bom\ufeff", 255, false, "invisible"},
		{"bad\xffutf8", 255, false, "UTF-8"},
		{"del\x7f", 255, false, "control character"},
	} {
		err := CheckText(tt.s, tt.max, tt.multiline)
		if tt.bad == "" && err != nil || tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)) {
			t.Errorf("CheckText(%q) = %v, want %q", tt.s, err, tt.bad)
		}
	}
}
