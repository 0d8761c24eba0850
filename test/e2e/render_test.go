package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/enforcement/nft"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/realization"
)

// hostileStrings are what an attacker puts where a name goes: quotes and
// backslashes that end an nftables string, path tricks, control and
// formatting characters, shell and nft syntax, lengths around the limits.
var hostileStrings = []string{
	`"`, `a"b`, `\`, `a\"b`, `" ; drop ; "`, `" } ; flush ruleset ; {"`, "'", "`", "$(reboot)", ";", "#",
	"{", "}", "[", "]", "@set", "*", ".", "..", "../x", "a/b", "%2F", "%00", "a b", "\t", "\n", "\r\n",
	"\x00", "a\x00b", "\x1b[31m", "\x1b]0;title\x07", "\u202egpj.exe", "\u2066x\u2069", "\u200b", "\ufeff", "\xff\xfe",
	"é", "日本", "🔥", "::ffff:0.0.0.0/96", "0.0.0.0/0", "::/0", "10.0.0.1 . 6 . 80", "1-65535",
	strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129), strings.Repeat("a", 255),
	strings.Repeat("a", 256), strings.Repeat("a.", 127), strings.Repeat("x", 4096), "web-1_a.b:c", "_",
}

// placeholders of hostileDoc: each is one field a string can land in.
var placeholders = []string{"T1", "SVC", "E", "PORT", "DOM", "G", "DN", "DESC", "TS", "TV", "ADDR", "P", "R", "NOTES", "LIT", "SP", "TAG"}

// hostileDoc is a configuration naming, describing and tagging every
// object with the defaults, but for one field, which holds s: a tier-1, a
// service, a group with tags and a literal address, a logged gateway rule
// and a logged DFW rule that use them.
func hostileDoc(field int, s string) []byte {
	v := map[string]string{"T1": "t1", "SVC": "svc", "E": "e", "PORT": "443", "DOM": "default", "G": "g", "DN": "", "DESC": "",
		"TS": "s", "TV": "v", "ADDR": "10.0.0.1", "P": "p", "R": "r", "NOTES": "", "LIT": "192.0.2.1", "SP": "sp", "TAG": ""}
	v[placeholders[field%len(placeholders)]] = s
	grp := "/infra/domains/" + v["DOM"] + "/groups/" + v["G"]
	rule := func(action string) map[string]any {
		return map[string]any{"id": v["R"], "display_name": v["DN"], "description": v["DESC"], "notes": v["NOTES"], "tag": v["TAG"],
			"logged": true, "source_groups": []string{grp}, "destination_groups": []string{v["LIT"]},
			"services": []string{"/infra/services/" + v["SVC"]}, "action": action}
	}
	doc := map[string]any{"resource_type": "Infra", "children": []any{
		map[string]any{"resource_type": "ChildTier1", "Tier1": map[string]any{"id": v["T1"], "display_name": v["DN"]}},
		map[string]any{"resource_type": "ChildService", "Service": map[string]any{"id": v["SVC"], "service_entries": []any{
			map[string]any{"resource_type": "L4PortSetServiceEntry", "id": v["E"], "l4_protocol": "TCP", "destination_ports": []string{v["PORT"]}}}}},
		map[string]any{"resource_type": "ChildDomain", "Domain": map[string]any{"id": v["DOM"], "children": []any{
			map[string]any{"resource_type": "ChildGroup", "Group": map[string]any{"id": v["G"], "display_name": v["DN"], "description": v["DESC"],
				"tags":       []any{map[string]string{"scope": v["TS"], "tag": v["TV"]}},
				"expression": []any{map[string]any{"resource_type": "IPAddressExpression", "ip_addresses": []string{v["ADDR"]}}}}},
			map[string]any{"resource_type": "ChildGatewayPolicy", "GatewayPolicy": map[string]any{"id": v["P"], "category": "LocalGatewayRules",
				"scope": []string{"/infra/tier-1s/" + v["T1"]}, "rules": []any{rule("REJECT")}}},
			map[string]any{"resource_type": "ChildSecurityPolicy", "SecurityPolicy": map[string]any{"id": v["SP"], "category": "Application",
				"rules": []any{rule("DROP")}}},
		}}},
	}}
	b, _ := json.Marshal(doc)
	return b
}

// accepted applies a document as the manager validates one, and returns
// the configuration when it is accepted.
func accepted(doc []byte) (*model.Config, bool) {
	docs, err := model.ParseDocument("hostile.json", doc)
	if err != nil || len(docs) != 1 {
		return nil, false
	}
	cfg, _, err := model.NewConfig().Apply("", docs[0])
	if err != nil || len(cfg.Validate()) > 0 {
		return nil, false
	}
	return cfg, true
}

// checkRenders renders every enforcement point's span of cfg and has the
// kernel's nft check each ruleset.
func checkRenders(t *testing.T, n knftables.Interface, cfg *model.Config) {
	t.Helper()
	idx := membership.New()
	if err := idx.Load(nil, cfg.Groups); err != nil {
		t.Fatalf("an accepted configuration's groups do not load: %v", err)
	}
	spans := []*realization.Span{realization.ForVM(cfg, idx, 1, "vm", "", []netip.Addr{netip.MustParseAddr("10.0.0.1")})}
	for _, gw := range cfg.Gateways() {
		spans = append(spans, realization.ForGateway(cfg, idx, 1, gw))
	}
	for _, s := range spans {
		tx := n.NewTransaction()
		nft.Render(tx, nft.Compile(s))
		if err := n.Check(context.Background(), tx); err != nil {
			t.Fatalf("an accepted configuration renders a ruleset nft refuses (%s): %v\n%s", s.Point, err, tx)
		}
	}
}

func requireNFT(t testing.TB) knftables.Interface {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "root (nft --check talks to the kernel)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		missing(t, "nft (Debian package nftables)")
	}
	n, err := knftables.New(knftables.InetFamily, "kordon-render-check")
	if err != nil {
		t.Fatalf("nftables: %v", err)
	}
	return n
}

// FuzzAcceptedConfigRenders holds the property that every configuration
// the manager accepts renders, at every enforcement point, to a ruleset
// the kernel's nft accepts: no accepted string can break the ruleset an
// agent installs (and so make it fail open). Its seeds are every hostile
// string in every field; `go test -fuzz FuzzAcceptedConfigRenders` looks
// for more.
func FuzzAcceptedConfigRenders(f *testing.F) {
	n := requireNFT(f)
	for i := range placeholders {
		for _, s := range hostileStrings {
			f.Add(i, s)
		}
	}
	f.Fuzz(func(t *testing.T, field int, s string) {
		if field < 0 {
			field = -field
		}
		cfg, ok := accepted(hostileDoc(field, s))
		if !ok {
			return
		}
		checkRenders(t, n, cfg)
	})
}

// TestHostileStringsAreRefusedOrHarmless runs the corpus through the
// API of a real manager: each document is refused with 400 naming the
// field, changing nothing, or accepted and then served back unchanged.
func TestHostileStringsAreRefusedOrHarmless(t *testing.T) {
	s := serve(t, t.TempDir(), "--no-demo")
	c, err := s.client()
	if err != nil {
		t.Fatal(err)
	}
	refused, acceptedN := 0, 0
	for i := range placeholders {
		for _, h := range hostileStrings {
			doc := hostileDoc(i, h)
			var rev struct {
				Revision int64 `json:"revision"`
			}
			_ = c.Do(context.Background(), "GET", "/policy/api/v1/kordon/status", nil, &rev)
			err := c.Do(context.Background(), "PATCH", "/policy/api/v1/infra", doc, nil)
			_, ok := accepted(doc)
			switch {
			case err == nil && !ok:
				t.Errorf("%s=%q: the API accepted what validation refuses", placeholders[i], h)
			case err != nil && ok:
				t.Errorf("%s=%q: the API refused a valid document: %v", placeholders[i], h, err)
			case err != nil:
				refused++
				if !strings.Contains(err.Error(), "400") && !strings.Contains(fmt.Sprint(err), "problem") && !strings.Contains(fmt.Sprint(err), "cannot") {
					t.Logf("%s=%q refused: %v", placeholders[i], h, err)
				}
				var after struct {
					Revision int64 `json:"revision"`
				}
				_ = c.Do(context.Background(), "GET", "/policy/api/v1/kordon/status", nil, &after)
				if after.Revision != rev.Revision {
					t.Errorf("%s=%q: a refused document changed the state", placeholders[i], h)
				}
			default:
				acceptedN++
			}
		}
	}
	t.Logf("%d documents refused, %d accepted", refused, acceptedN)
	if acceptedN == 0 || refused == 0 {
		t.Fatal("the corpus should hold both kinds")
	}
}
