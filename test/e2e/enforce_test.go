package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/manager"
)

// extraPolicy adds to the examples what the seed's scenarios need to
// show REJECT over UDP, and a catch-all that makes a NodePort change
// visible: rules after vms-to-k8s in the Application category, applied
// to the VMs the manager tags tier|app (the VirtualMachine member type;
// tags are set at registration, never by the agent).
const extraPolicy = `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildGroup
      Group:
        id: tagged-app-vms
        expression:
        - {resource_type: Condition, member_type: VirtualMachine, key: Tag, operator: EQUALS, value: "tier|app"}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: app-to-nodes
        category: Application
        sequence_number: 20
        scope: [/infra/domains/default/groups/tagged-app-vms]
        rules:
        - {id: reject-ssh, sequence_number: 10, source_groups: [/infra/domains/default/groups/app-vms], destination_groups: [/infra/domains/default/groups/east-nodes], services: [/infra/services/SSH], action: REJECT}
        - {id: reject-mdns, sequence_number: 20, source_groups: [/infra/domains/default/groups/app-vms], destination_groups: [/infra/domains/default/groups/east-nodes], service_entries: [{resource_type: L4PortSetServiceEntry, id: mdns, l4_protocol: UDP, destination_ports: ["5353"]}], action: REJECT}
        - {id: drop-rest, sequence_number: 30, source_groups: [/infra/domains/default/groups/app-vms], destination_groups: [/infra/domains/default/groups/east-nodes], action: DROP}
    - resource_type: ChildGatewayPolicy
      GatewayPolicy:
        id: k8s-udp
        category: LocalGatewayRules
        sequence_number: 5
        scope: [/infra/tier-1s/t1-edge]
        rules:
        - {id: reject-mdns-to-admin, source_groups: [/infra/domains/default/groups/k8s-sources], destination_groups: [/infra/domains/default/groups/admin-vms], service_entries: [{resource_type: L4PortSetServiceEntry, id: mdns, l4_protocol: UDP, destination_ports: ["5353"]}], action: REJECT, scope: [/infra/tier-1s/t1-edge]}
`

// lockdownPolicy drops every new connection in and out of the tagged app
// VMs, first of all rules.
const lockdownPolicy = `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: lockdown
        category: Emergency
        scope: [/infra/domains/default/groups/tagged-app-vms]
        rules:
        - {id: drop-all, action: DROP, direction: IN_OUT}
`

// lab is the test network: a "cluster" namespace holding node IPs, an
// Egress IP, a routable pool address and a load-balancer VIP; a gateway
// routing between it and two VM namespaces (db with an admin address,
// and app); the manager in the test's own namespace, reached over
// management links.
type lab struct {
	cl, gw, db, app *netNS
}

func buildLab(t *testing.T) *lab {
	p := fmt.Sprintf("kd%d", os.Getpid()%100000)
	l := &lab{cl: newNetNS(t, p+"-cl"), gw: newNetNS(t, p+"-gw"), db: newNetNS(t, p+"-db"), app: newNetNS(t, p+"-app")}
	link := func(a *netNS, aIf string, b *netNS, bIf string) {
		ipCmd(t, "-n", a.name, "link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b.name)
		ipCmd(t, "-n", a.name, "link", "set", aIf, "up")
		ipCmd(t, "-n", b.name, "link", "set", bIf, "up")
	}
	addr := func(n *netNS, dev string, cidrs ...string) {
		for _, c := range cidrs {
			ipCmd(t, "-n", n.name, "addr", "add", c, "dev", dev)
		}
	}
	link(l.gw, "c0", l.cl, "g0")
	addr(l.gw, "c0", "10.254.0.1/24")
	addr(l.cl, "g0", "10.254.0.2/24", "10.10.1.11/32", "10.10.1.12/32", "10.10.1.100/32", "10.10.1.101/32", "10.20.0.7/32", "10.30.1.11/32", "192.168.50.10/32")
	ipCmd(t, "-n", l.cl.name, "route", "add", "default", "via", "10.254.0.1")
	ipCmd(t, "-n", l.gw.name, "route", "add", "10.0.0.0/8", "via", "10.254.0.2")
	ipCmd(t, "-n", l.gw.name, "route", "add", "192.168.50.0/24", "via", "10.254.0.2")
	link(l.gw, "d0", l.db, "g0")
	addr(l.gw, "d0", "172.16.10.1/24", "172.16.30.1/24")
	addr(l.db, "g0", "172.16.10.5/24", "172.16.30.5/24")
	ipCmd(t, "-n", l.db.name, "route", "add", "default", "via", "172.16.10.1")
	link(l.gw, "a0", l.app, "g0")
	addr(l.gw, "a0", "172.16.20.1/24")
	addr(l.app, "g0", "172.16.20.10/24")
	ipCmd(t, "-n", l.app.name, "route", "add", "default", "via", "172.16.20.1")
	if out, err := exec.Command("ip", "netns", "exec", l.gw.name, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("enabling forwarding: %v\n%s", err, out)
	}
	// Management: the manager listens on 10.255.0.1 in the test's
	// namespace; the gateway and the app VM reach it over their own links.
	ipCmd(t, "link", "add", "m-gw", "type", "veth", "peer", "name", "m0", "netns", l.gw.name)
	ipCmd(t, "addr", "add", "10.255.0.1/24", "dev", "m-gw")
	ipCmd(t, "link", "set", "m-gw", "up")
	addr(l.gw, "m0", "10.255.0.2/24")
	ipCmd(t, "-n", l.gw.name, "link", "set", "m0", "up")
	ipCmd(t, "link", "add", "m-app", "type", "veth", "peer", "name", "m0", "netns", l.app.name)
	ipCmd(t, "addr", "add", "10.255.1.1/24", "dev", "m-app")
	ipCmd(t, "link", "set", "m-app", "up")
	addr(l.app, "m0", "10.255.1.2/24")
	ipCmd(t, "-n", l.app.name, "link", "set", "m0", "up")
	ipCmd(t, "-n", l.app.name, "route", "add", "10.255.0.0/24", "via", "10.255.1.1")

	l.cl.serveTCP(t, 443, 80, 30080, 30090, 61001, 22)
	l.cl.serveUDP(t, 5353)
	l.db.serveTCP(t, 5432, 22)
	l.db.serveUDP(t, 9125, 5353)
	l.app.serveUDP(t, 9125)
	return l
}

type probeCase struct {
	name     string
	from     *netNS
	src, dst string
	proto    string
	port     int
	want     string
}

// expect probes until every case has its outcome (changes take effect
// asynchronously), then fails with the ones that did not.
func expect(t *testing.T, within time.Duration, cases []probeCase) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var wrong []string
		for _, c := range cases {
			got, err := c.from.probe(c.src, c.dst, c.proto, c.port)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got != c.want {
				wrong = append(wrong, fmt.Sprintf("%s (%s %s -> %s:%d): %s, want %s", c.name, c.proto, c.src, c.dst, c.port, got, c.want))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s:\n  %s", within, strings.Join(wrong, "\n  "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestEnforcement runs the seed's scenarios with real packets: kordon
// serve with the example policy and a file inventory, a gateway agent on
// a namespace routing between a cluster network and VMs, a VM agent on
// the app VM, and TCP and UDP traffic that must be allowed, dropped or
// rejected as the rules say, including after inventory changes.
func TestEnforcement(t *testing.T) {
	needNFTables(t)
	if os.Getenv("KORDON_E2E_NETNS") == "" {
		// Re-run this test alone in a private network namespace: the
		// manager's links and addresses vanish with it.
		args := []string{"-test.run=^TestEnforcement$", "-test.timeout=10m"}
		if testing.Verbose() {
			args = append(args, "-test.v")
		}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "KORDON_E2E_NETNS=1", "KORDON_E2E_BIN="+kordon)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		if err := cmd.Run(); err != nil {
			t.Fatalf("the test in its network namespace: %v", err)
		}
		return
	}
	ipCmd(t, "link", "set", "lo", "up")
	l := buildLab(t)

	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory")
	if out, err := exec.Command("cp", "-r", "../../examples/inventory", inv).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	port := freePort(t)
	listen := fmt.Sprintf("10.255.0.1:%d", port)
	s := serve(t, dir, "--listen", listen, "--tls-san", "10.255.0.1", "--inventory", inv)
	examplePolicy, err := filepath.Abs("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.run(0, "apply", "-f", examplePolicy)
	if err := os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte(extraPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	s.run(0, "apply", "-f", "extra.yaml")

	s.run(0, "agent", "register", "edge-1", "--role", "gateway", "--gateway", "/infra/tier-1s/t1-edge", "--bundle-out", "edge-1.bundle")
	s.run(0, "agent", "register", "app-1", "--role", "vm", "--tag", "tier|app", "--allowed-address", "172.16.20.0/24", "--bundle-out", "app-1.bundle")
	gw := s.startIn(l.gw, "agent", "run", "--bundle", "edge-1.bundle", "--report", "1s", "--wait", "5s")
	vm := s.startIn(l.app, "agent", "run", "--bundle", "app-1.bundle", "--address", "172.16.20.10", "--report", "1s", "--wait", "5s")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway agent:\n%s\nVM agent:\n%s\nagents:\n%s", gw.out, vm.out, s.agentsJSON())
		}
	})
	s.realized(t, "edge-1", "app-1")

	type pc = probeCase
	expect(t, 10*time.Second, []pc{
		// Gateway firewall, cluster -> VMs.
		{"Egress IP to the database", l.cl, "10.10.1.100", "172.16.10.5", "tcp", 5432, allowed},
		{"Egress IP to the database's ssh", l.cl, "10.10.1.100", "172.16.10.5", "tcp", 22, dropped},
		{"node IP (SNAT to the node) to the database", l.cl, "10.10.1.11", "172.16.10.5", "tcp", 5432, dropped},
		{"routable pool address to the database", l.cl, "10.20.0.7", "172.16.10.5", "tcp", 5432, allowed},
		{"node IP to the admin host's ssh", l.cl, "10.10.1.12", "172.16.30.5", "tcp", 22, rejected},
		{"Egress IP to the database over UDP", l.cl, "10.10.1.100", "172.16.10.5", "udp", 9125, dropped},
		{"prod-west node metrics to the app VM", l.cl, "10.30.1.11", "172.16.20.10", "udp", 9125, allowed},
		{"node IP to the admin host over UDP", l.cl, "10.10.1.12", "172.16.30.5", "udp", 5353, rejected},
		{"an address in no group", l.cl, "10.10.1.101", "172.16.10.5", "tcp", 22, allowed},
		// Distributed firewall on the app VM, VM -> cluster.
		{"app VM to the LoadBalancer VIP on https", l.app, "172.16.20.10", "192.168.50.10", "tcp", 443, allowed},
		{"app VM to the LoadBalancer VIP on http", l.app, "172.16.20.10", "192.168.50.10", "tcp", 80, dropped},
		{"app VM to the NodePort", l.app, "172.16.20.10", "10.10.1.12", "tcp", 30080, allowed},
		{"app VM to a NodePortLocal port", l.app, "172.16.20.10", "10.10.1.11", "tcp", 61001, allowed},
		{"app VM to a node port that is no Service's", l.app, "172.16.20.10", "10.10.1.12", "tcp", 30090, dropped},
		{"app VM to a node's ssh", l.app, "172.16.20.10", "10.10.1.11", "tcp", 22, rejected},
		{"app VM to a node over UDP", l.app, "172.16.20.10", "10.10.1.11", "udp", 5353, rejected},
	})

	// The inventory changes: the Egress moves to another IP, the catalog
	// Service to another node port. What passes follows, with no restart
	// and no table replacement.
	edit(t, filepath.Join(inv, "prod-east", "antrea.json"), `"10.10.1.100"`, `"10.10.1.101"`)
	edit(t, filepath.Join(inv, "prod-east", "services.yaml"), "nodePort: 30080}", "nodePort: 30090}")
	expect(t, 20*time.Second, []pc{
		{"the new Egress IP to the database", l.cl, "10.10.1.101", "172.16.10.5", "tcp", 5432, allowed},
		{"the new Egress IP to the database's ssh", l.cl, "10.10.1.101", "172.16.10.5", "tcp", 22, dropped},
		{"the old Egress IP to the database", l.cl, "10.10.1.100", "172.16.10.5", "tcp", 5432, allowed},
		{"the old Egress IP, now in no group", l.cl, "10.10.1.100", "172.16.10.5", "tcp", 22, allowed},
		{"app VM to the new NodePort", l.app, "172.16.20.10", "10.10.1.12", "tcp", 30090, allowed},
		{"app VM to the old NodePort", l.app, "172.16.20.10", "10.10.1.12", "tcp", 30080, dropped},
	})
	s.realized(t, "edge-1", "app-1")
	for _, a := range []*proc{gw, vm} {
		if !strings.Contains(a.out.String(), "replaced_table=false") {
			t.Errorf("the inventory change was not applied as element changes:\n%s", a.out)
		}
	}

	// Counters reach the manager as rule statistics: the probes above
	// opened one connection to a node's ssh, rejected by reject-ssh.
	var hits uint64
	waitFor(t, 10*time.Second, "rule statistics", func() bool {
		c, err := s.client()
		if err != nil {
			return false
		}
		var out struct {
			Results []struct {
				Statistics struct {
					Results []struct {
						Rule        string `json:"rule"`
						PacketCount uint64 `json:"packet_count"`
					} `json:"results"`
				} `json:"statistics"`
			} `json:"results"`
		}
		if c.Do(context.Background(), http.MethodGet, "/policy/api/v1/infra/domains/default/security-policies/app-to-nodes/statistics", nil, &out) != nil || len(out.Results) != 1 {
			return false
		}
		for _, r := range out.Results[0].Statistics.Results {
			if strings.HasSuffix(r.Rule, "/reject-ssh") {
				hits = r.PacketCount
			}
		}
		return hits >= 1
	})

	// A lockdown: every new connection in and out of the app VM dropped.
	// It cannot cut the agent off from its manager: the agent's
	// connections to the manager are exempt, so after the manager restarts
	// (every connection new) the agent still reaches it.
	if err := os.WriteFile(filepath.Join(dir, "lockdown.yaml"), []byte(lockdownPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	s.run(0, "apply", "-f", "lockdown.yaml")
	s.realized(t, "edge-1", "app-1")
	expect(t, 10*time.Second, []pc{
		{"in lockdown, the VIP on https", l.app, "172.16.20.10", "192.168.50.10", "tcp", 443, dropped},
	})
	if out, _ := exec.Command("ip", "netns", "exec", l.app.name, "nft", "list", "chain", "inet", "kordon", "out").CombinedOutput(); !strings.Contains(string(out), fmt.Sprintf("ip daddr 10.255.0.1 tcp dport %d accept", port)) {
		t.Errorf("the VM's output chain does not exempt the manager:\n%s", out)
	}

	// Fail static: with the manager gone the rules stay.
	s.stop()
	expect(t, 5*time.Second, []pc{
		{"with the manager down, the VIP on https in lockdown", l.app, "172.16.20.10", "192.168.50.10", "tcp", 443, dropped},
		{"with the manager down, a node IP to the database", l.cl, "10.10.1.11", "172.16.10.5", "tcp", 5432, dropped},
	})

	// The manager back: both agents reconnect, the VM through its
	// lockdown; lifting it reaches the VM.
	s2 := serve(t, dir, "--listen", listen, "--tls-san", "10.255.0.1", "--inventory", inv)
	s2.realized(t, "edge-1", "app-1")
	s2.run(0, "delete", "security-policies", "lockdown")
	s2.realized(t, "edge-1", "app-1")
	expect(t, 10*time.Second, []pc{
		{"after the lockdown, the VIP on https", l.app, "172.16.20.10", "192.168.50.10", "tcp", 443, allowed},
		{"after the lockdown, the VIP on http", l.app, "172.16.20.10", "192.168.50.10", "tcp", 80, dropped},
	})

	// Deregistered agents are refused; uninstall removes everything.
	s2.run(0, "agent", "deregister", "edge-1")
	if out := gw.waitExit(t, 4); !strings.Contains(out, "not registered") {
		t.Errorf("a deregistered agent's message:\n%s", out)
	}
	vm.kill()
	for _, n := range []*netNS{l.gw, l.app} {
		if out, err := exec.Command("ip", "netns", "exec", n.name, kordon, "agent", "uninstall").CombinedOutput(); err != nil {
			t.Fatalf("uninstall in %s: %v\n%s", n.name, err, out)
		}
		if out, _ := exec.Command("ip", "netns", "exec", n.name, "nft", "list", "tables").CombinedOutput(); strings.TrimSpace(string(out)) != "" {
			t.Errorf("after uninstall %s still has: %s", n.name, out)
		}
	}
	expect(t, 5*time.Second, []pc{
		{"after uninstall, a node IP to the database", l.cl, "10.10.1.11", "172.16.10.5", "tcp", 5432, allowed},
		{"after uninstall, the VIP on http", l.app, "172.16.20.10", "192.168.50.10", "tcp", 80, allowed},
	})
}

func edit(t *testing.T, path, from, to string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), from) {
		t.Fatalf("%s does not contain %s", path, from)
	}
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), from, to)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startIn starts the CLI in a network namespace, in the server's
// directory.
func (s *server) startIn(n *netNS, args ...string) *proc {
	p := &proc{cmd: exec.Command("ip", append([]string{"netns", "exec", n.name, kordon}, args...)...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Dir = s.dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	s.t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			<-p.done
		}
	})
	return p
}

func (s *server) agentsJSON() string {
	c, err := s.client()
	if err != nil {
		return err.Error()
	}
	var out any
	if err := c.Do(context.Background(), http.MethodGet, "/policy/api/v1/kordon/agents", nil, &out); err != nil {
		return err.Error()
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	return string(b)
}

// realized waits until every named agent enforces its current span.
func (s *server) realized(t *testing.T, names ...string) {
	t.Helper()
	waitFor(t, 30*time.Second, "agents "+strings.Join(names, ", ")+" realizing their spans", func() bool {
		c, err := s.client()
		if err != nil {
			return false
		}
		var out struct {
			Results []manager.AgentStatus `json:"results"`
		}
		if c.Do(context.Background(), http.MethodGet, "/policy/api/v1/kordon/agents", nil, &out) != nil {
			return false
		}
		ok := 0
		for _, a := range out.Results {
			for _, n := range names {
				if a.Name == n && a.State == manager.RealizedSuccess {
					ok++
				}
			}
		}
		return ok == len(names)
	})
}
