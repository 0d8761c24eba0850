package console

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/model"
)

var funcs = template.FuncMap{
	"ago":       ago,
	"when":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"link":      link,
	"anchor":    anchor,
	"short":     short,
	"join":      strings.Join,
	"lower":     strings.ToLower,
	"add":       func(a, b int) int { return a + b },
	"sub":       func(a, b int) int { return a - b },
	"spaceOf":   spaceOf,
	"objectURL": objectURL,
	"millis":    func(ms int64) time.Time { return time.UnixMilli(ms) },
	"stateWord": stateWord,
	"list":      func(s ...string) []string { return s },
	"pager":     newPager,
	"daysLeft":  func(t time.Time) int { return int(time.Until(t).Hours() / 24) },
}

// ago says how long ago t was, to the unit that matters.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// stateWord gives a state a class name for its badge; the badge always
// shows the state as text too (no colour-only state).
func stateWord(s string) string {
	switch strings.ToUpper(s) {
	case "UP", "IN_SYNC", "SUCCESS", "ALLOW", "REALIZED":
		return "ok"
	case "DOWN", "FAILED", "ERROR", "DROP", "REJECT":
		return "bad"
	}
	return "warn"
}

// link returns the console page of an NSX path (group, policy, rule) or of
// an inventory object written as cluster/Kind/namespace/name, or "" when
// the text is neither (a literal address in a rule, say).
func link(s string) string {
	if r, err := model.ParsePath(s); err == nil {
		q := url.Values{}
		if r.Project != "" {
			q.Set("project", r.Project)
		}
		switch r.Kind {
		case model.KindGroup:
			q.Set("domain", r.Domain)
			q.Set("id", r.ID)
			return "/ui/group?" + q.Encode()
		case model.KindSecurityPolicy, model.KindRule, model.KindGatewayPolicy:
			page := "/ui/dfw?"
			if r.Kind == model.KindGatewayPolicy || r.PolicyKind == model.KindGatewayPolicy {
				page = "/ui/gfw?"
			}
			q.Set("rule", s)
			return page + q.Encode() + "#" + anchor(s)
		}
		return ""
	}
	return objectURL(s)
}

// objectURL links an inventory object written as cluster/Kind/name or
// cluster/Kind/namespace/name.
func objectURL(s string) string {
	parts := strings.Split(s, "/")
	q := url.Values{}
	switch len(parts) {
	case 3:
		q.Set("cluster", parts[0])
		q.Set("kind", parts[1])
		q.Set("name", parts[2])
	case 4:
		q.Set("cluster", parts[0])
		q.Set("kind", parts[1])
		q.Set("namespace", parts[2])
		q.Set("name", parts[3])
	default:
		return ""
	}
	for _, k := range inventoryKinds {
		if k == parts[1] {
			return "/ui/inventory/object?" + q.Encode()
		}
	}
	return ""
}

// anchor is an element id for a path: letters, digits and '-' only.
func anchor(path string) string {
	var b strings.Builder
	b.WriteString("p")
	for _, r := range path {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "_%x", r)
		}
	}
	return b.String()
}

// short is the last segment of a path.
func short(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 && i+1 < len(p) {
		return p[i+1:]
	}
	return p
}

// spaceOf is the project a path is in ("" for the default space).
func spaceOf(p string) string {
	if r, err := model.ParsePath(p); err == nil {
		return r.Project
	}
	return ""
}

// pager is a list's page navigation: the page, the page count, and the
// URL of any page with the view's other parameters kept.
type pager struct {
	v           *view
	path, param string
	kv          []string
	Page, Pages int
}

func newPager(v *view, path, param string, page, pages int, kv ...string) pager {
	return pager{v: v, path: path, param: param, kv: kv, Page: page, Pages: pages}
}

// URL is the address of page n.
func (p pager) URL(n int) string {
	return p.v.Q(p.path, append(append([]string(nil), p.kv...), p.param, strconv.Itoa(n))...)
}
