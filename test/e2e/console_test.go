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
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kordon-dev/kordon/internal/client"
)

// chromium finds Debian's chromium (hack/test.sh installs it), preferring
// the browser itself to the wrapper script, which only adds noise.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/lib/chromium/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	missing(t, "chromium (Debian package chromium)")
	return ""
}

// browser is one headless Chromium with a fresh profile, at 1280x800.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // where screenshots go
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // root in CI
		chromedp.WindowSize(1280, 800),
		// The installation's CA is its own: the test trusts it the way
		// an operator who imported it would.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	dir := os.Getenv("KORDON_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "kordon-artifacts")
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, ctx: ctx, base: base, shot: dir}
	b.run(chromedp.Navigate(base + "/ui/signin"))
	// A headless page never has the window's focus; without it :focus
	// styles (the skip link's) would not apply.
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	return b
}

// in is the browser for a subtest: failures are the subtest's.
func (b *browser) in(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

// set sets a form control's value as typing would, firing its events.
func (b *browser) set(sel, value string) {
	b.t.Helper()
	evalJS[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, sel, value))
}

func (b *browser) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("main")))
}

// text returns the text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// evalJS runs JavaScript, awaiting a promise, and decodes its value.
func evalJS[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds (bounded).
func (b *browser) waitFor(what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		// A poll ends with an error when the page navigates under it
		// (a sign-in, a save): poll the new page.
		_, err = chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil || !strings.Contains(err.Error(), "navigated") && !strings.Contains(err.Error(), "context was destroyed") && !strings.Contains(err.Error(), "Cannot find context") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main")))
		b.t.Fatalf("%s: %v\npage:\n%s", what, err, body)
	}
}

// screenshot writes the page as it is to the artifacts directory.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) signIn(token string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	if !strings.Contains(loc, "/ui/signin?next=") {
		b.t.Fatalf("an unauthenticated visit went to %s, not the sign-in page", loc)
	}
	b.run(chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)))
	b.waitFor("the overview after sign-in", `document.querySelector("main h1") && document.querySelector("main h1").textContent === "Overview"`)
}

func (b *browser) signOut() {
	b.t.Helper()
	b.run(chromedp.Click(chromedp.CSS("#signout")))
	b.waitFor("the sign-in page after sign-out", `location.pathname === "/ui/signin"`)
}

// accessible checks what every page must have: one h1, a label for every
// control, and a skip link that the first Tab reaches.
func (b *browser) accessible(page string) {
	b.t.Helper()
	problems := evalJS[[]string](b, `(() => {
		const out = [];
		if (document.querySelectorAll("h1").length !== 1) out.push("h1 count " + document.querySelectorAll("h1").length);
		for (const c of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
			const labelled = c.getAttribute("aria-label") || c.closest("label") || (c.id && document.querySelector('label[for="' + c.id + '"]'));
			if (!labelled) out.push("unlabelled " + c.outerHTML.slice(0, 80));
		}
		return out;
	})()`)
	for _, p := range problems {
		b.t.Errorf("%s: %s", page, p)
	}
	first := evalJS[string](b, `document.querySelector("a[href], button, input:not([type=hidden]), select, textarea").className`)
	if first != "skip" {
		b.t.Errorf("%s: the first control is %q, not the skip link", page, first)
	}
	// From the skip link, Tab moves on through the page, and the skip
	// link shows itself while it has focus.
	visible := evalJS[bool](b, `(() => { const s = document.querySelector(".skip"); s.focus(); return s.getBoundingClientRect().left >= 0; })()`)
	b.run(chromedp.KeyEvent(kb.Tab))
	if next := evalJS[string](b, `document.activeElement.className || document.activeElement.id`); !visible || next == "skip" {
		b.t.Errorf("%s: the skip link is visible when focused: %v; Tab from it reaches %q", page, visible, next)
	}
}

// status fetches path from inside the page (same origin, the session's
// cookie) with the method and headers given, and returns the status and
// the error message.
func (b *browser) fetch(method, path, body string, csrf bool) (int, string) {
	b.t.Helper()
	type result struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
	hdr := `{"Content-Type": "application/json"}`
	if csrf {
		hdr = `{"Content-Type": "application/json", "X-XSRF-TOKEN": document.querySelector('meta[name="kordon-csrf"]').content}`
	}
	res := evalJS[result](b, fmt.Sprintf(`fetch(%q, {method: %q, credentials: "same-origin", headers: %s, body: %s})
		.then(async r => ({status: r.status, message: ((await r.json().catch(() => ({}))).error_message || "")}))`,
		path, method, hdr, jsOrNull(body)))
	return res.Status, res.Message
}

func jsOrNull(s string) string {
	if s == "" {
		return "null"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// api is the test's own admin client of the server.
func (s *server) api(t *testing.T) *client.Client {
	t.Helper()
	c, err := s.client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createToken(t *testing.T, c *client.Client, id, role, project string) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	if err := c.Do(context.Background(), http.MethodPost, "/policy/api/v1/kordon/tokens", map[string]string{"id": id, "role": role, "project": project}, &out); err != nil {
		t.Fatal(err)
	}
	return out.Token
}

const orderPolicy = `{"display_name": "console order test", "category": "Emergency", "sequence_number": 0, "rules": [
 {"id": "a-allow", "display_name": "a-allow", "action": "ALLOW", "source_groups": ["198.51.100.7"], "destination_groups": ["172.16.10.5"], "services": ["ANY"], "scope": ["ANY"], "sequence_number": 10},
 {"id": "b-drop", "display_name": "b-drop", "action": "DROP", "source_groups": ["198.51.100.7"], "destination_groups": ["172.16.10.5"], "services": ["ANY"], "scope": ["ANY"], "sequence_number": 20}]}`

// explainRule asks the API which rule decides the test flow.
func explainRule(t *testing.T, c *client.Client) string {
	t.Helper()
	var out struct {
		RulePath string `json:"rule_path"`
	}
	flow := map[string]any{"src": "198.51.100.7", "dst": "172.16.10.5", "protocol": "TCP", "port": 5432}
	if err := c.Do(context.Background(), http.MethodPost, "/policy/api/v1/kordon/explain", flow, &out); err != nil {
		t.Fatal(err)
	}
	return out.RulePath
}

// TestConsole drives the console in a real headless Chromium against
// `kordon serve` with the example inventory and policy: sign-in, pages,
// live updates, edits, reordering checked against explain, trace, and the
// refusals (reader, CSRF, another project).
func TestConsole(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory")
	if out, err := exec.Command("cp", "-r", "../../examples/inventory", inv).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	s := serve(t, dir, "--inventory", inv)
	policy, err := filepath.Abs("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.run(0, "apply", "-f", policy)
	c := s.api(t)
	ctx := context.Background()
	admin, err := os.ReadFile(filepath.Join(dir, "kordon-data", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	pol := "/policy/api/v1/infra/domains/default/security-policies/console-order"
	if err := c.Do(ctx, http.MethodPatch, pol, json.RawMessage(orderPolicy), nil); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, c.Server())
	b.screenshot("signin")
	b.accessible("sign-in")
	b.signIn(strings.TrimSpace(string(admin)))

	t.Run("session cookie", func(t *testing.T) {
		b := b.in(t)
		res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{})
		if err != nil {
			t.Fatal(err)
		}
		cookies := res.Cookies
		if len(cookies) != 1 || cookies[0].Name != "JSESSIONID" || !cookies[0].HTTPOnly || !cookies[0].Secure || cookies[0].SameSite != network.CookieSameSiteStrict {
			t.Fatalf("cookies: %+v", cookies)
		}
		if evalJS[bool](b, `document.cookie.includes("JSESSIONID")`) {
			t.Fatal("page scripts can read the session cookie")
		}
	})

	t.Run("overview", func(t *testing.T) {
		b := b.in(t)
		main := b.text("main")
		contains(t, "overview", main, "prod-east", "Up", "Enforcement agents", "License")
		// Recent changes come from the watch stream's history.
		b.waitFor("recent changes", `document.querySelectorAll("#changes tbody tr").length > 0`)
		contains(t, "recent changes", b.text("#changes"), "config", "/infra/domains/default/security-policies/console-order")
		b.accessible("overview")
		b.screenshot("overview")
	})

	t.Run("groups and members", func(t *testing.T) {
		b := b.in(t)
		b.open("/ui/groups")
		contains(t, "groups", b.text("#groups-table"), "cart-npl", "frontend-lb", "KubernetesService")
		b.accessible("groups")
		b.screenshot("groups")
		b.open("/ui/group?domain=default&id=frontend-lb")
		members := b.text("#members")
		contains(t, "frontend-lb members", members, "frontend")
		if strings.Contains(members, "catalog") {
			t.Fatalf("catalog is a member before its labels change:\n%s", members)
		}
		contains(t, "frontend-lb criteria", b.text("main"), "KubernetesService Tag equals", "Where it is used")
		b.accessible("group")
		b.screenshot("group")
	})

	t.Run("a member appears live", func(t *testing.T) {
		b := b.in(t)
		// The page stays; a marker set now survives only if it is not
		// reloaded.
		evalJS[int](b, `window.kordonMarker = 42`)
		b.waitFor("the watch stream", `document.body.dataset.watching === "true"`)
		edit(t, filepath.Join(inv, "prod-east", "services.yaml"), "labels: {app: catalog, tier: web}", "labels: {app: frontend, tier: web}")
		b.waitFor("catalog in frontend-lb's members", `document.querySelector("#members") && document.querySelector("#members").textContent.includes("catalog")`)
		if evalJS[int](b, `window.kordonMarker`) != 42 {
			t.Fatal("the page was reloaded instead of updated")
		}
		b.screenshot("group-live")
	})

	t.Run("inventory", func(t *testing.T) {
		b := b.in(t)
		b.open("/ui/inventory?cluster=prod-east&kind=Service")
		contains(t, "inventory", b.text("main table"), "catalog", "frontend")
		b.accessible("inventory")
		b.screenshot("inventory")
		b.open("/ui/inventory/object?cluster=prod-east&kind=Service&namespace=shop&name=catalog")
		contains(t, "catalog's page", b.text("main"), "frontend-lb", "KubernetesService", "10.10.1.")
		b.screenshot("inventory-object")
	})

	t.Run("edit a group", func(t *testing.T) {
		b := b.in(t)
		b.open("/ui/group/edit?domain=default&id=redis-clusterip")
		b.waitFor("the criteria builder", `document.querySelector("#criteria .condition input")`)
		b.accessible("editor")
		// An address that is none is refused, next to its field.
		b.run(chromedp.SendKeys(chromedp.CSS("#g-ips"), "1.2.3.999"), chromedp.Click(chromedp.CSS("#save")))
		b.waitFor("the address error", `document.querySelector("#err-ips").textContent.includes("not an IP address")`)
		b.set("#g-ips", "")
		b.set("#criteria .condition input", "cart")
		b.run(chromedp.Click(chromedp.CSS("#preview")))
		b.waitFor("the preview", `!document.querySelector("#preview-result").hidden`)
		contains(t, "preview", b.text("#preview-result"), "1 would join, 1 would leave", "+ KubernetesService prod-east/shop/cart", "redis")
		b.screenshot("group-edit")
		// Nothing is saved by a preview.
		var g struct {
			Expression []struct {
				Value string `json:"value"`
			} `json:"expression"`
			Revision int64 `json:"_revision"`
		}
		if err := c.Do(ctx, http.MethodGet, "/policy/api/v1/infra/domains/default/groups/redis-clusterip", nil, &g); err != nil || g.Expression[0].Value != "redis" {
			t.Fatalf("after the preview: %+v %v", g, err)
		}
		b.run(chromedp.Click(chromedp.CSS("#save")))
		b.waitFor("the group page after saving", `location.pathname === "/ui/group" && document.querySelector("#members") && document.querySelector("#members").textContent.includes("cart")`)

		// A change made meanwhile by someone else is a conflict.
		b.open("/ui/group/edit?domain=default&id=redis-clusterip")
		b.waitFor("the criteria builder", `document.querySelector("#criteria .condition input")`)
		var cur map[string]any
		if err := c.Do(ctx, http.MethodGet, "/policy/api/v1/infra/domains/default/groups/redis-clusterip", nil, &cur); err != nil {
			t.Fatal(err)
		}
		cur["description"] = "changed by someone else"
		if err := c.Do(ctx, http.MethodPut, "/policy/api/v1/infra/domains/default/groups/redis-clusterip", cur, nil); err != nil {
			t.Fatal(err)
		}
		b.set("#g-desc", "changed in the console")
		b.run(chromedp.Click(chromedp.CSS("#save")))
		b.waitFor("the conflict", `document.querySelector("#form-error").textContent.includes("Conflict")`)
	})

	t.Run("reorder a rule, and explain agrees", func(t *testing.T) {
		b := b.in(t)
		if got := explainRule(t, c); !strings.HasSuffix(got, "/console-order/rules/a-allow") {
			t.Fatalf("before: the flow is decided by %s", got)
		}
		b.open("/ui/dfw?rule=" + pol + "/rules/b-drop")
		contains(t, "dfw", b.text("#rules"), "Emergency", "console order test", "a-allow", "b-drop", "Application")
		b.accessible("dfw")
		b.screenshot("dfw")
		b.run(chromedp.Click(chromedp.CSS(`tr[data-path$="/console-order/rules/b-drop"] button[data-op="up"]`)))
		b.waitFor("b-drop first", `(() => { const rows = [...document.querySelectorAll("#rules tr[data-path*='/console-order/']")]; return rows.length === 2 && rows[0].dataset.path.endsWith("/b-drop"); })()`)
		if got := explainRule(t, c); !strings.HasSuffix(got, "/console-order/rules/b-drop") {
			t.Fatalf("after moving b-drop up, the flow is decided by %s", got)
		}
		b.run(chromedp.Click(chromedp.CSS(`tr[data-path$="/console-order/rules/b-drop"] button[data-op="toggle"]`)))
		b.waitFor("b-drop disabled", `document.querySelector("tr[data-path$='/console-order/rules/b-drop']").classList.contains("disabled")`)
		if got := explainRule(t, c); !strings.HasSuffix(got, "/console-order/rules/a-allow") {
			t.Fatalf("with b-drop disabled, the flow is decided by %s", got)
		}
		// A narrow window gets the same table, one rule a block.
		b.run(chromedp.EmulateViewport(390, 844))
		b.screenshot("dfw-narrow")
		b.run(chromedp.EmulateViewport(1280, 800))
	})

	t.Run("create and edit a rule", func(t *testing.T) {
		b := b.in(t)
		b.open("/ui/dfw?rule=" + pol)
		b.run(chromedp.Click(chromedp.CSS(`a.add-rule[href*="console-order"]`)))
		b.waitFor("the rule editor", `document.querySelector("#object-editor")`)
		b.accessible("rule editor")
		b.set("#f-id", "c-reject")
		b.set("#f-sequence_number", "1")
		b.set("#f-source_groups", "198.51.100.7")
		b.set("#f-destination_groups", "not-an-address")
		b.set("#f-action", "REJECT")
		b.run(chromedp.Click(chromedp.CSS("#save")))
		b.waitFor("the destination's error", `document.querySelector("#err-destination_groups").textContent.length > 0`)
		b.set("#f-destination_groups", "172.16.10.5")
		b.run(chromedp.Click(chromedp.CSS("#save")))
		b.waitFor("the new rule in the table", `location.pathname === "/ui/dfw" && document.querySelector("tr[data-path$='/console-order/rules/c-reject']")`)
		if got := explainRule(t, c); !strings.HasSuffix(got, "/console-order/rules/c-reject") {
			t.Fatalf("after adding c-reject first, the flow is decided by %s", got)
		}
		// The link's target, opened directly: the table may be swapped
		// for a fresher rendering (the watch) between finding and clicking.
		b.open(evalJS[string](b, `document.querySelector('tr[data-path$="/console-order/rules/c-reject"] td a[href*="/ui/rule/edit"]').getAttribute("href")`))
		b.waitFor("the rule editor", `document.querySelector("#object-editor") && document.querySelector("#f-action").value === "REJECT"`)
		b.screenshot("rule-edit")
		b.run(chromedp.Click(chromedp.CSS(`input[data-field="disabled"]`)), chromedp.Click(chromedp.CSS("#save")))
		b.waitFor("c-reject disabled", `location.pathname === "/ui/dfw" && document.querySelector("tr[data-path$='/console-order/rules/c-reject']").classList.contains("disabled")`)
	})

	t.Run("create and edit a policy", func(t *testing.T) {
		b := b.in(t)
		b.open("/ui/dfw")
		b.open(evalJS[string](b, `document.querySelector('main a.button[href*="/ui/policy/edit"]').getAttribute("href")`))
		b.waitFor("the policy editor", `document.querySelector("#object-editor")`)
		b.accessible("policy editor")
		b.set("#f-id", "console-new")
		b.set("#f-display_name", "made in the console")
		b.set("#f-category", "Environment")
		b.set("#f-sequence_number", "7")
		b.run(chromedp.Click(chromedp.CSS("#save")))
		b.waitFor("the new policy in the table", `location.pathname === "/ui/dfw" && document.querySelector("tr.policy").parentElement.textContent.includes("made in the console")`)
		// Editing a policy's own fields keeps its rules.
		b.open(evalJS[string](b, `document.querySelector('a.edit-policy[href*="console-order"]').getAttribute("href")`))
		b.waitFor("the policy editor", `document.querySelector("#f-display_name") && document.querySelector("#f-display_name").value === "console order test"`)
		b.set("#f-display_name", "console order, renamed")
		b.run(chromedp.Click(chromedp.CSS("#save")))
		b.waitFor("the renamed policy", `location.pathname === "/ui/dfw" && document.querySelector("#rules").textContent.includes("console order, renamed")`)
		var got struct {
			RuleCount int `json:"rule_count"`
		}
		if err := c.Do(ctx, http.MethodGet, pol, nil, &got); err != nil || got.RuleCount != 3 {
			t.Fatalf("after editing the policy: %d rules, %v; want its 3", got.RuleCount, err)
		}
	})

	t.Run("trace", func(t *testing.T) {
		b := b.in(t)
		b.open("/ui/trace")
		b.accessible("trace")
		b.run(chromedp.SendKeys(chromedp.CSS(`input[name="from_pod"]`), "prod-east/payments/api-5f8b9"),
			chromedp.SendKeys(chromedp.CSS(`input[name="to"]`), "172.16.10.5"),
			chromedp.SendKeys(chromedp.CSS(`input[name="port"]`), "5432"))
		b.set(`select[name="gateway"]`, "/infra/tier-1s/t1-edge")
		b.run(
			chromedp.Click(chromedp.CSS(`.trace-form button[type="submit"]`)))
		b.waitFor("the trace", `document.querySelector("#trace-result")`)
		contains(t, "trace", b.text("#trace-result"), "Egress", "10.10.1.100", "payments-to-db", "ALLOW")
		b.screenshot("trace")
		b.run(chromedp.Click(chromedp.CSS(`#trace-result a.rule-link[href*="payments-to-db"]`)))
		b.waitFor("the deciding rule in the gateway firewall", `location.pathname === "/ui/gfw" && document.querySelector("tr.focus[data-path$='/payments-to-db']")`)
		b.screenshot("gfw")
	})

	t.Run("advisor", func(t *testing.T) {
		b := b.in(t)
		b.open("/ui/advisor")
		contains(t, "advisor", b.text("main"), "Fix:")
		b.accessible("advisor")
		b.screenshot("advisor")
	})

	t.Run("CSRF refused", func(t *testing.T) {
		b := b.in(t)
		path := "/policy/api/v1/infra/domains/default/groups/csrf-probe"
		status, msg := b.fetch("PATCH", path, `{"expression": [{"resource_type": "IPAddressExpression", "ip_addresses": ["192.0.2.1"]}]}`, false)
		if status != 403 || !strings.Contains(msg, "CSRF") {
			t.Fatalf("a change without the CSRF token: %d %s", status, msg)
		}
		if status, msg := b.fetch("PATCH", path, `{"expression": [{"resource_type": "IPAddressExpression", "ip_addresses": ["192.0.2.1"]}]}`, true); status != 200 {
			t.Fatalf("the same change with the token: %d %s", status, msg)
		}
	})
	b.signOut()
	if status, _ := b.fetch("GET", "/policy/api/v1/infra/domains/default/groups", "", false); status != 401 {
		t.Fatalf("after sign-out the cookie still reads: %d", status)
	}

	t.Run("reader refused", func(t *testing.T) {
		b := b.in(t)
		b.signIn(createToken(t, c, "console-reader", "reader", ""))
		b.open("/ui/group?domain=default&id=frontend-lb")
		edits := evalJS[int](b, `document.querySelectorAll('main a[href*="/ui/group/edit"], button[data-op]').length`)
		if edits != 0 {
			t.Fatalf("a reader sees %d edit controls", edits)
		}
		b.open("/ui/dfw")
		edits = evalJS[int](b, `document.querySelectorAll('button[data-op]').length`)
		if edits != 0 {
			t.Fatalf("a reader sees %d rule controls", edits)
		}
		status, msg := b.fetch("PATCH", "/policy/api/v1/infra/domains/default/groups/reader-probe", `{"expression": []}`, true)
		if status != 403 || !strings.Contains(msg, "may only read") {
			t.Fatalf("a reader's change: %d %s", status, msg)
		}
		b.signOut()
	})

	t.Run("project isolation", func(t *testing.T) {
		b := b.in(t)
		for _, p := range []string{"team", "other"} {
			if err := c.Do(ctx, http.MethodPut, "/policy/api/v1/orgs/default/projects/"+p, map[string]any{}, nil); err != nil {
				t.Fatal(err)
			}
			if err := c.Do(ctx, http.MethodPatch, "/policy/api/v1/orgs/default/projects/"+p+"/infra/domains/default/groups/"+p+"-hosts",
				json.RawMessage(`{"expression": [{"resource_type": "IPAddressExpression", "ip_addresses": ["192.0.2.10"]}]}`), nil); err != nil {
				t.Fatal(err)
			}
		}
		b.signIn(createToken(t, c, "team-admin", "project-admin", "team"))
		nav := b.text("header nav")
		if strings.Contains(nav, "Inventory") || strings.Contains(nav, "Trace") {
			t.Fatalf("a project's admin is offered installation-wide pages: %s", nav)
		}
		b.open("/ui/groups")
		groups := b.text("#groups-table")
		contains(t, "the project's groups", groups, "team-hosts")
		for _, other := range []string{"other-hosts", "frontend-lb"} {
			if strings.Contains(groups, other) {
				t.Fatalf("a project's admin sees %s:\n%s", other, groups)
			}
		}
		b.screenshot("project-groups")
		for _, path := range []string{"/ui/group?domain=default&id=frontend-lb&project=", "/ui/groups?project=other", "/ui/inventory", "/ui/trace"} {
			b.open(path)
			if h := b.text("main h1"); !strings.HasPrefix(h, "403") && !strings.HasPrefix(h, "404") {
				t.Errorf("%s as a project's admin: %q\n%s", path, h, b.text("main"))
			}
		}
		if status, _ := b.fetch("PATCH", "/policy/api/v1/orgs/default/projects/other/infra/domains/default/groups/x", `{"expression": []}`, true); status != 403 {
			t.Fatalf("a project's admin changed another project: %d", status)
		}
		b.signOut()
	})
}
