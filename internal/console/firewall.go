package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

type ruleView struct {
	ID                   string          `json:"id"`
	Path                 string          `json:"path"`
	DisplayName          string          `json:"display_name"`
	Action               string          `json:"action"`
	Direction            string          `json:"direction"`
	IPProtocol           string          `json:"ip_protocol"`
	SourceGroups         []string        `json:"source_groups"`
	DestinationGroups    []string        `json:"destination_groups"`
	SourcesExcluded      bool            `json:"sources_excluded"`
	DestinationsExcluded bool            `json:"destinations_excluded"`
	Services             []string        `json:"services"`
	ServiceEntries       json.RawMessage `json:"service_entries"`
	Scope                []string        `json:"scope"`
	Logged               bool            `json:"logged"`
	Disabled             bool            `json:"disabled"`
	SequenceNumber       int64           `json:"sequence_number"`
	RuleID               int64           `json:"rule_id"`
	Revision             int64           `json:"_revision"`
}

type policyView struct {
	ID             string     `json:"id"`
	Path           string     `json:"path"`
	DisplayName    string     `json:"display_name"`
	Category       string     `json:"category"`
	SequenceNumber int64      `json:"sequence_number"`
	Scope          []string   `json:"scope"`
	Rules          []ruleView `json:"rules"`
	RuleCount      int        `json:"rule_count"`
	Connectivity   string     `json:"connectivity_preference"`
}

// fwRow is one line of a firewall table: a policy's header, or a rule.
type fwRow struct {
	Policy *policyView
	Rule   *ruleView
	// Index is the rule's place in its policy, Of the policy's count.
	Index, Of int
	Hits      *ruleHits
	// Prev and Next are the neighbours a move swaps with.
	Prev, Next *ruleView
}

type ruleHits struct {
	Hits    int64 `json:"hit_count"`
	Packets int64 `json:"packet_count"`
	Bytes   int64 `json:"byte_count"`
}

type firewallData struct {
	Gateway     bool
	Rows        []fwRow
	Rules       int
	Page, Pages int
	Gateways    []string
	Selected    string
	Categories  []string
	// Focus is the rule or policy a link asked for.
	Focus string
	// Kind is the editor's name for the table's policies.
	Kind string
}

func (c *Console) dfw(k *caller, v *view, r *http.Request) error {
	v.Title, v.Nav, v.Live = "Distributed firewall", "dfw", "config"
	return c.firewall(k, v, r, false)
}

func (c *Console) gfw(k *caller, v *view, r *http.Request) error {
	v.Title, v.Nav, v.Live = "Gateway firewall", "gfw", "config"
	return c.firewall(k, v, r, true)
}

func (c *Console) firewall(k *caller, v *view, r *http.Request, gateway bool) error {
	v.LivePrefix = model.Space(v.Project)
	q := r.URL.Query()
	d := &firewallData{Gateway: gateway, Kind: "security", Selected: q.Get("gateway"), Categories: model.DFWCategories}
	if gateway {
		d.Kind = "gateway"
	}
	v.Data = d
	kind, order := "security-policies", policy.SecurityPolicyOrder
	if gateway {
		kind, order, d.Categories = "gateway-policies", policy.GatewayPolicyOrder, model.GFWCategories
		for _, t := range []string{"tier-0s", "tier-1s"} {
			gws, err := listAll[struct {
				Path string `json:"path"`
			}](k, spacePrefix(v.Project)+"/infra/"+t, maxListed)
			if err != nil && statusOf(err) != http.StatusForbidden {
				return err
			}
			for _, g := range gws {
				d.Gateways = append(d.Gateways, g.Path)
			}
		}
	}
	// The policies come without their rules: a page reads the rules of
	// the policies it shows, so its cost follows the page, not the
	// firewall (the scale fixtures have 10,000 rules).
	pols, err := listAll[policyView](k, spacePrefix(v.Project)+"/infra/domains/default/"+kind+"?include_rules=false", maxListed)
	if err != nil {
		return err
	}
	sort.Slice(pols, func(i, j int) bool {
		a, b := pols[i], pols[j]
		return order(a.Path, a.Category, a.SequenceNumber).Before(order(b.Path, b.Category, b.SequenceNumber))
	})
	loaded := map[string]bool{}
	load := func(p *policyView) error {
		if loaded[p.Path] {
			return nil
		}
		var full policyView
		if err := k.get("/policy/api/v1"+p.Path, &full); err != nil {
			return err
		}
		p.Rules, loaded[p.Path] = full.Rules, true
		sort.Slice(p.Rules, func(i, j int) bool {
			return policy.RuleBefore(p.Rules[i].SequenceNumber, p.Rules[i].Path, p.Rules[j].SequenceNumber, p.Rules[j].Path)
		})
		if gateway && d.Selected != "" { // the table shows the rules applied at the gateway
			var at []ruleView
			for i := range p.Rules {
				if slices.Contains(effectiveScope(p, &p.Rules[i]), d.Selected) {
					at = append(at, p.Rules[i])
				}
			}
			p.Rules = at
		}
		p.RuleCount = len(p.Rules)
		return nil
	}
	// Each policy takes its rules' count of lines, or one for its
	// header when it has none; a gateway filter needs every rule's scope.
	var shown []*policyView
	for i := range pols {
		p := &pols[i]
		if gateway && d.Selected != "" {
			if !slices.Contains(p.Scope, d.Selected) && !model.IsAny(p.Scope) && len(p.Scope) > 0 {
				continue
			}
			if err := load(p); err != nil {
				return err
			}
			if p.RuleCount == 0 && !slices.Contains(p.Scope, d.Selected) {
				continue
			}
		}
		shown = append(shown, p)
	}
	lines := func(p *policyView) int { return max(1, p.RuleCount) }
	offset := make([]int, len(shown)+1)
	for i, p := range shown {
		offset[i+1] = offset[i] + lines(p)
		d.Rules += p.RuleCount
	}
	d.Page, d.Pages = pageOf(q.Get("page"), offset[len(shown)], rulesPage)
	if want := q.Get("rule"); want != "" {
		// A link to a rule or policy opens the page that shows it.
		for i, p := range shown {
			if want != p.Path && !strings.HasPrefix(want, p.Path+"/rules/") {
				continue
			}
			at := offset[i]
			if want != p.Path {
				if err := load(p); err != nil {
					return err
				}
				for ri := range p.Rules {
					if p.Rules[ri].Path == want {
						at += ri
					}
				}
			}
			d.Page, d.Focus = at/rulesPage+1, want
			break
		}
	}
	start, end := (d.Page-1)*rulesPage, d.Page*rulesPage
	for i, p := range shown {
		if offset[i+1] <= start || offset[i] >= end {
			continue
		}
		if err := load(p); err != nil {
			return err
		}
		d.Rows = append(d.Rows, fwRow{Policy: p, Of: len(p.Rules)})
		if len(p.Rules) == 0 {
			continue
		}
		hits := c.statistics(k, v.Project, kind, p.ID)
		for ri := range p.Rules {
			if at := offset[i] + ri; at < start || at >= end {
				continue
			}
			row := fwRow{Policy: p, Rule: &p.Rules[ri], Index: ri, Of: len(p.Rules), Hits: hits[p.Rules[ri].Path]}
			if ri > 0 {
				row.Prev = &p.Rules[ri-1]
			}
			if ri+1 < len(p.Rules) {
				row.Next = &p.Rules[ri+1]
			}
			d.Rows = append(d.Rows, row)
		}
	}
	return nil
}

// effectiveScope is where a gateway rule applies: its policy's scope when
// the policy has one, else its own.
func effectiveScope(p *policyView, r *ruleView) []string {
	if len(p.Scope) > 0 && !model.IsAny(p.Scope) {
		return p.Scope
	}
	return r.Scope
}

// statistics reads a policy's rule counters; a page without them is still
// a page, so a failure shows no counts rather than an error.
func (c *Console) statistics(k *caller, project, kind, id string) map[string]*ruleHits {
	var st struct {
		Results []struct {
			Statistics struct {
				Results []struct {
					Rule string `json:"rule"`
					ruleHits
				} `json:"results"`
			} `json:"statistics"`
		} `json:"results"`
	}
	out := map[string]*ruleHits{}
	if err := k.get(spacePrefix(project)+"/infra/domains/default/"+kind+"/"+url.PathEscape(id)+"/statistics", &st); err != nil {
		return out
	}
	for _, r := range st.Results {
		for _, s := range r.Statistics.Results {
			h := s.ruleHits
			out[s.Rule] = &h
		}
	}
	return out
}
