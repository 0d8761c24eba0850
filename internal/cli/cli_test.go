package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/cmdutil"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	policyFile = "../../examples/policy.yaml"
	invDir     = "../../examples/inventory"
)

// run executes the kordon command tree and returns its output, error
// output and exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewRoot(&out, &errOut)
	cmd.SetArgs(args)
	code := 0
	if err := cmd.Execute(); err != nil {
		code = cmdutil.ExitCode(err)
		errOut.WriteString(err.Error() + "\n")
	}
	return out.String(), errOut.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./internal/cli -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	explain := []string{"explain", "--policy", policyFile, "--inventory", invDir}
	trace := []string{"trace", "--policy", policyFile, "--inventory", invDir}
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"validate-examples", []string{"validate", "--policy", policyFile, "--inventory", invDir}, 0},
		{"validate-bad", []string{"validate", "--policy", "testdata/bad-policy.yaml"}, 1},
		{"validate-typo", []string{"validate", "--policy", "testdata/typo-policy.yaml"}, 1},
		{"members-table", []string{"members", "--policy", policyFile, "--inventory", invDir}, 0},
		{"members-nodeport", []string{"members", "--policy", policyFile, "--inventory", invDir, "--group", "/infra/domains/default/groups/catalog-nodeport"}, 0},
		{"members-egress-example", []string{"members", "--policy", policyFile, "--policy", "../../examples/egress.yaml", "--inventory", invDir, "--group", "/infra/domains/default/groups/egress-pay-and-analytics"}, 0},
		{"members-npl-json", []string{"members", "--policy", policyFile, "--inventory", invDir, "--group", "/infra/domains/default/groups/cart-npl", "-o", "json"}, 0},
		{"explain-dfw-allow", append(explain, "--src", "172.16.20.11", "--dst", "192.168.50.10", "--port", "443"), 0},
		{"explain-dfw-reject-json", append(explain, "--src", "172.16.30.5", "--dst", "192.168.60.40", "--port", "8443", "-o", "json"), 0},
		{"explain-dfw-nodeport-wrong-port", append(explain, "--src", "172.16.20.11", "--dst", "10.10.1.11", "--port", "30081"), 0},
		{"explain-gfw-egress-json", append(explain, "--src", "10.10.1.100", "--dst", "172.16.10.5", "--port", "5432", "--gateway", "/infra/tier-1s/t1-edge", "-o", "json"), 0},
		{"explain-gfw-default", append(explain, "--src", "10.99.0.1", "--dst", "172.16.10.5", "--port", "5432", "--gateway", "/infra/tier-1s/t1-edge"), 0},
		{"explain-icmp-yaml", append(explain, "--src", "203.0.113.66", "--dst", "172.16.10.5", "--protocol", "ICMPv4", "--icmp-type", "8", "-o", "yaml"), 0},
		// The six scenarios of NSX's documentation on Antrea clusters, and the other ways in.
		{"trace-out-egress", append(trace, "--from-pod", "prod-east/payments/api-5f8b9", "--to", "172.16.10.5", "--port", "5432", "--gateway", "/infra/tier-1s/t1-edge"), 0},
		{"trace-out-node", append(trace, "--from-pod", "prod-east/batch/report-28f1", "--to", "172.16.10.5", "--port", "5432", "--gateway", "/infra/tier-1s/t1-edge"), 0},
		{"trace-out-routable-pod", append(trace, "--from-pod", "prod-east/payments/ledger-0", "--to", "172.16.10.5", "--port", "5432"), 0},
		{"trace-out-dual-stack-json", append(trace, "--from-pod", "prod-east/shop/frontend-6d4f7", "--to", "fd00:172:16:20::5", "--port", "8080", "-o", "json"), 0},
		{"trace-in-loadbalancer", append(trace, "--from", "172.16.20.11", "--to-service", "prod-east/shop/frontend", "--gateway", "/infra/tier-1s/t1-edge"), 0},
		{"trace-in-nodeport", append(trace, "--from", "172.16.20.11", "--to-service", "prod-east/shop/catalog", "--gateway", "/infra/tier-1s/t1-edge"), 0},
		{"trace-in-nodeportlocal", append(trace, "--from", "172.16.20.11", "--to-service", "prod-east/shop/cart", "--gateway", "/infra/tier-1s/t1-edge"), 0},
		{"trace-in-routable-pod", append(trace, "--from", "172.16.20.11", "--to-service", "prod-east/payments/ledger", "--gateway", "/infra/tier-1s/t1-edge"), 0},
		{"trace-in-clusterip", append(trace, "--from", "172.16.20.11", "--to-service", "prod-east/shop/redis"), 0},
		{"trace-in-ingress", append(trace, "--from", "172.16.20.11", "--to-ingress", "prod-east/shop/web", "--gateway", "/infra/tier-1s/t1-edge"), 0},
		{"trace-in-gateway-yaml", append(trace, "--from", "172.16.30.5", "--to-gateway", "prod-east/payments/pay-gw", "--gateway", "/infra/tier-1s/t1-edge", "-o", "yaml"), 0},
		{"advise-examples", []string{"advise", "--policy", policyFile, "--inventory", invDir}, 0},
		{"advise-fail-on-warning", []string{"advise", "--policy", policyFile, "--inventory", invDir, "--fail-on", "warning", "-o", "json"}, 3},
		{"advise-ambiguous", []string{"advise", "--policy", "testdata/ip-group.yaml", "--inventory", "testdata/inventory-ambiguous"}, 0},
		{"advise-ambiguous-json", []string{"advise", "--policy", "testdata/ip-group.yaml", "--inventory", "testdata/inventory-ambiguous", "-o", "json"}, 0},
		{"diff-examples", []string{"diff", "--policy", policyFile, "--policy", "testdata/policy-new.yaml", "--inventory", invDir, "--flows", "testdata/flows.csv"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.code, errOut)
			}
			golden(t, tt.name, out+errOut)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	explain := []string{"explain", "--policy", policyFile, "--inventory", invDir}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad src", append(explain, "--src", "nope", "--dst", "1.1.1.1", "--port", "1"), `--src: "nope" is not an IP address`},
		{"mixed families", append(explain, "--src", "1.1.1.1", "--dst", "::1", "--port", "1"), "same address family"},
		{"missing port", append(explain, "--src", "1.1.1.1", "--dst", "2.2.2.2"), "--port is required for TCP"},
		{"bad protocol", append(explain, "--src", "1.1.1.1", "--dst", "2.2.2.2", "--protocol", "XTP"), "unknown protocol"},
		{"unknown gateway", append(explain, "--src", "1.1.1.1", "--dst", "2.2.2.2", "--port", "1", "--gateway", "/infra/tier-1s/nope"), "not a tier-0 or tier-1"},
		{"missing policy", []string{"members", "--inventory", invDir}, "--policy is required"},
		{"unreadable policy", []string{"validate", "--policy", "testdata/none.yaml"}, "no such file"},
		{"missing inventory dir", []string{"members", "--policy", policyFile, "--inventory", "testdata/none"}, "no such file"},
		{"unknown group", []string{"members", "--policy", policyFile, "--group", "/infra/domains/default/groups/none"}, "is not defined"},
		{"unknown output", []string{"members", "--policy", policyFile, "-o", "xml"}, `unknown output format "xml"`},
		{"trace: no direction", []string{"trace", "--policy", policyFile, "--inventory", invDir}, "either --from-pod (outbound) or --from (inbound)"},
		{"trace: both directions", []string{"trace", "--policy", policyFile, "--from-pod", "a/b/c", "--from", "1.1.1.1"}, "either --from-pod"},
		{"trace: bad pod", []string{"trace", "--policy", policyFile, "--inventory", invDir, "--from-pod", "prod-east/nope", "--to", "1.1.1.1", "--port", "1"}, `--from-pod: "prod-east/nope" is not CLUSTER/NAMESPACE/NAME`},
		{"trace: missing pod", []string{"trace", "--policy", policyFile, "--inventory", invDir, "--from-pod", "prod-east/shop/nope", "--to", "1.1.1.1", "--port", "1"}, "--from-pod: pod prod-east/shop/nope is not in the inventory"},
		{"trace: missing port", []string{"trace", "--policy", policyFile, "--inventory", invDir, "--from-pod", "prod-east/shop/cart-0", "--to", "1.1.1.1"}, "--port is required for TCP"},
		{"trace: port with --from", []string{"trace", "--policy", policyFile, "--inventory", invDir, "--from", "1.1.1.1", "--to-service", "prod-east/shop/cart", "--port", "1"}, "--to and --port go with --from-pod"},
		{"trace: two targets", []string{"trace", "--policy", policyFile, "--inventory", invDir, "--from", "1.1.1.1", "--to-service", "prod-east/shop/cart", "--to-ingress", "prod-east/shop/web"}, "exactly one of --to-service, --to-ingress and --to-gateway"},
		{"trace: unknown gateway", []string{"trace", "--policy", policyFile, "--inventory", invDir, "--from", "1.1.1.1", "--to-service", "prod-east/shop/cart", "--gateway", "/infra/tier-1s/nope"}, "--gateway: /infra/tier-1s/nope is not an existing tier-0 or tier-1"},
		{"advise: bad --fail-on", []string{"advise", "--policy", policyFile, "--fail-on", "error"}, `--fail-on: "error" is not warning or info`},
		{"diff: one policy", []string{"diff", "--policy", policyFile, "--inventory", invDir}, "exactly twice"},
		{"diff: bad flow file", []string{"diff", "--policy", policyFile, "--policy", policyFile, "--inventory", invDir, "--flows", "testdata/flows-bad.csv"}, `testdata/flows-bad.csv:3: src: "10.10.1.300" is not an IP address`},
		{"diff: missing flow file", []string{"diff", "--policy", policyFile, "--policy", policyFile, "--flows", "testdata/none.csv"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := run(t, tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, errOut, tt.want)
			}
		})
	}
}

func TestBenchClassbench(t *testing.T) {
	out, errOut, code := run(t, "bench", "classbench", "../classbench/testdata/ipc1_1k", "--flows", "2000", "--time", "20ms", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Rules      int     `json:"rules"`
		Flows      int     `json:"flows"`
		Mismatches int     `json:"mismatches"`
		Ratio      float64 `json:"ratio"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Rules != 974 || rep.Flows != 2000 || rep.Mismatches != 0 || rep.Ratio <= 0 {
		t.Errorf("report = %+v", rep)
	}
	_, errOut, code = run(t, "bench", "classbench", "testdata/bad-policy.yaml")
	if code != 2 || !strings.Contains(errOut, "line 1") {
		t.Errorf("a malformed filter set: exit %d, %q", code, errOut)
	}
}
