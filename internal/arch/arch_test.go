package arch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/kordon-dev/kordon/"

// pkg is what the rules read of a package: its non-test imports, direct
// and all.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// only: a dependency that only some packages may import directly.
type only struct {
	dep     string   // an import path, or a prefix ending in "/"
	allowed []string // import paths relative to the module
	why     string
}

var onlyRules = []only{
	{"go.etcd.io/etcd/", []string{"internal/store"}, "etcd stays behind the store"},
	{"k8s.io/client-go/", []string{"internal/adapter"}, "only the adapter talks to clusters' API servers"},
	// enforcement names knftables.Interface in its Options so that tests
	// (and the agent's command, through nft.New) hand it a table; only
	// nft builds transactions.
	{"sigs.k8s.io/knftables", []string{"internal/enforcement/nft", "internal/enforcement"}, "nftables is enforcement/nft's"},
	// Element changes go to the kernel over netlink from nft alone.
	{"github.com/google/nftables", []string{"internal/enforcement/nft"}, "netlink to nftables is enforcement/nft's"},
}

// never: packages that must not depend on others, even through a third.
type never struct {
	from []string
	deps []string
	why  string
}

var edge = []string{"internal/adapter", "internal/enforcement", "internal/enforcement/nft", "internal/client", "internal/wire", "internal/agentcmd", "internal/cmdutil", "cmd/kordon-agent"}

var neverRules = []never{
	{edge, []string{"internal/manager", "internal/store", "internal/apiserver", "internal/serve", "internal/cli"},
		"the edge reaches the manager over the API (internal/client, shaped by internal/wire), never by linking it"},
	{[]string{"internal/wire"}, []string{"internal/membership", "internal/policy", "internal/realization", "internal/inventory", "internal/pki"},
		"the contract holds shapes, not engines"},
	{[]string{"cmd/kordon-agent"}, []string{"go.etcd.io/", "k8s.io/client-go/", "internal/adapter"},
		"the agent's binary runs on every enforced host: no etcd, no client-go"},
	{[]string{"internal/console"}, []string{"internal/manager", "internal/store", "internal/apiserver", "internal/access"},
		"the console reads and writes through the API with the browser's own credentials; it has no side door to the state or to authorization"},
}

// matches reports whether path is dep, or under it when dep ends in "/".
func matches(path, dep string) bool {
	dep = strings.TrimSuffix(dep, "/")
	if !strings.Contains(dep, ".") {
		dep = mod + dep // a kordon package
	}
	return path == dep || strings.HasPrefix(path, dep+"/")
}

func rel(path string) string { return strings.TrimPrefix(path, mod) }

// violations checks pkgs against the rules; each names the package and
// the import that breaks a rule. The test harness under test/ is exempt:
// it drives real clusters and managers from outside.
func violations(pkgs []pkg) []string {
	var out []string
	byPath := map[string]pkg{}
	for _, p := range pkgs {
		byPath[rel(p.ImportPath)] = p
	}
	for _, p := range pkgs {
		name := rel(p.ImportPath)
		if strings.HasPrefix(name, "test/") {
			continue
		}
		for _, r := range onlyRules {
			if slices.Contains(r.allowed, name) {
				continue
			}
			for _, imp := range p.Imports {
				if matches(imp, r.dep) {
					out = append(out, fmt.Sprintf("%s imports %s: only %s may (%s)", name, imp, strings.Join(r.allowed, ", "), r.why))
				}
			}
		}
	}
	for _, r := range neverRules {
		for _, from := range r.from {
			p, ok := byPath[from]
			if !ok {
				out = append(out, fmt.Sprintf("%s: no such package, so the rule %q checks nothing", from, r.why))
				continue
			}
			// One line per forbidden dependency, not per package under it:
			// etcd alone is a hundred.
			for _, bad := range r.deps {
				var hits []string
				for _, d := range p.Deps {
					if matches(d, bad) {
						hits = append(hits, d)
					}
				}
				if len(hits) == 0 {
					continue
				}
				more := ""
				if len(hits) > 1 {
					more = fmt.Sprintf(" and %d more under %s", len(hits)-1, strings.TrimSuffix(bad, "/"))
				}
				out = append(out, fmt.Sprintf("%s depends on %s%s (%s): %s", from, rel(hits[0]), more, via(byPath, p, hits[0]), r.why))
			}
		}
	}
	return out
}

// via names the direct import of p through which it reaches dep, which is
// where a fix starts.
func via(byPath map[string]pkg, p pkg, dep string) string {
	if slices.Contains(p.Imports, dep) {
		return "imported directly"
	}
	for _, imp := range p.Imports {
		if q, ok := byPath[rel(imp)]; ok && slices.Contains(q.Deps, dep) {
			return "through " + rel(imp)
		}
	}
	return "through a dependency"
}

// load lists the module's packages with go list.
func load(t *testing.T) []pkg {
	t.Helper()
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; run from the module", len(pkgs))
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	for _, v := range violations(load(t)) {
		t.Error(v)
	}
}

// TestRulesCatchViolations: each kind of rule fails, naming the package
// and the import, on a graph that breaks it.
func TestRulesCatchViolations(t *testing.T) {
	ok := []pkg{
		{ImportPath: mod + "internal/store", Imports: []string{"go.etcd.io/etcd/client/v3"}, Deps: []string{"go.etcd.io/etcd/client/v3"}},
		{ImportPath: mod + "internal/manager", Imports: []string{mod + "internal/store"}, Deps: []string{mod + "internal/store", "go.etcd.io/etcd/client/v3"}},
		{ImportPath: mod + "internal/wire", Imports: []string{mod + "internal/model"}, Deps: []string{mod + "internal/model"}},
		{ImportPath: mod + "test/e2e", Imports: []string{"k8s.io/client-go/rest"}},
		{ImportPath: mod + "internal/console", Imports: []string{mod + "internal/model"}, Deps: []string{mod + "internal/model"}},
	}
	for _, e := range edge {
		if e != "internal/wire" {
			ok = append(ok, pkg{ImportPath: mod + e})
		}
	}
	if v := violations(ok); len(v) != 0 {
		t.Fatalf("a graph that keeps the rules: %v", v)
	}
	with := func(p pkg) []pkg {
		out := slices.Clone(ok)
		for i := range out {
			if out[i].ImportPath == p.ImportPath {
				out[i] = p
				return out
			}
		}
		return append(out, p)
	}
	for _, tt := range []struct {
		p    pkg
		want string
	}{
		{pkg{ImportPath: mod + "internal/cli", Imports: []string{"go.etcd.io/etcd/client/v3"}},
			"internal/cli imports go.etcd.io/etcd/client/v3: only internal/store may"},
		{pkg{ImportPath: mod + "internal/inventory", Imports: []string{"k8s.io/client-go/tools/cache"}},
			"internal/inventory imports k8s.io/client-go/tools/cache: only internal/adapter may"},
		{pkg{ImportPath: mod + "internal/cli", Imports: []string{"sigs.k8s.io/knftables"}},
			"internal/cli imports sigs.k8s.io/knftables: only internal/enforcement/nft, internal/enforcement may"},
		{pkg{ImportPath: mod + "internal/enforcement", Imports: []string{mod + "internal/manager"}, Deps: []string{mod + "internal/manager", mod + "internal/store"}},
			"internal/enforcement depends on internal/manager (imported directly)"},
		{pkg{ImportPath: mod + "internal/adapter", Imports: []string{mod + "internal/manager"}, Deps: []string{mod + "internal/manager", mod + "internal/store"}},
			"internal/adapter depends on internal/store (through internal/manager)"},
		{pkg{ImportPath: mod + "internal/wire", Imports: []string{mod + "internal/realization"}, Deps: []string{mod + "internal/realization"}},
			"internal/wire depends on internal/realization (imported directly): the contract holds shapes"},
		{pkg{ImportPath: mod + "internal/console", Imports: []string{mod + "internal/manager"}, Deps: []string{mod + "internal/manager", mod + "internal/store"}},
			"internal/console depends on internal/manager (imported directly): the console reads and writes through the API"},
		{pkg{ImportPath: mod + "cmd/kordon-agent", Imports: []string{"go.etcd.io/etcd/client/v3"}, Deps: []string{"go.etcd.io/etcd/client/v3"}},
			"cmd/kordon-agent depends on go.etcd.io/etcd/client/v3 (imported directly): the agent's binary"},
	} {
		v := violations(with(tt.p))
		if !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, tt.want) }) {
			t.Errorf("%s breaking a rule: got %q, want a violation containing %q", rel(tt.p.ImportPath), v, tt.want)
		}
	}
}
