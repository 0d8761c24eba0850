package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/kordon-dev/kordon/internal/model"
)

type statusView struct {
	Revision         int64         `json:"revision"`
	Ready            bool          `json:"ready"`
	Clusters         []clusterView `json:"clusters"`
	Groups           int           `json:"groups"`
	Policies         int           `json:"policies"`
	Rules            int           `json:"rules"`
	InventoryObjects int           `json:"inventory_objects"`
	EventsFrom       int64         `json:"events_from"`
	License          *licenseView  `json:"license"`
}

type clusterView struct {
	Name        string         `json:"name"`
	Source      string         `json:"source"`
	Demo        bool           `json:"demo"`
	State       string         `json:"state"`
	Since       time.Time      `json:"since"`
	Objects     map[string]int `json:"objects"`
	StaleGroups []string       `json:"stale_groups"`
}

// Total is the cluster's object count.
func (c clusterView) Total() int {
	n := 0
	for _, v := range c.Objects {
		n += v
	}
	return n
}

type licenseView struct {
	License struct {
		ID         string    `json:"id"`
		Licensee   string    `json:"licensee"`
		Features   []string  `json:"features"`
		Expires    time.Time `json:"expires"`
		Evaluation bool      `json:"evaluation"`
	} `json:"license"`
	Valid  bool     `json:"valid"`
	Error  string   `json:"error"`
	Active []string `json:"active_features"`
}

type agentView struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	Gateway      string `json:"gateway"`
	Project      string `json:"project"`
	State        string `json:"realization_state"`
	Reason       string `json:"reason"`
	SpanRevision int64  `json:"span_revision"`
}

type overviewData struct {
	Status      *statusView
	Agents      []agentView
	Counts      map[string]int
	Since       int64
	Clusterless bool
}

func (c *Console) overview(k *caller, v *view, _ *http.Request) error {
	v.Title, v.Nav, v.Live = "Overview", "overview", "config,membership,cluster,license,project"
	d := &overviewData{Counts: map[string]int{}}
	v.Data = d
	if !v.Installation() {
		v.LivePrefix = model.Space(v.Project)
		for _, l := range []struct{ name, path string }{{"groups", "/infra/domains/default/groups"},
			{"security policies", "/infra/domains/default/security-policies"}, {"gateway policies", "/infra/domains/default/gateway-policies"}} {
			var page struct {
				Count int `json:"result_count"`
			}
			if err := k.get(spacePrefix(v.Project)+l.path+"?page_size=1", &page); err != nil {
				return err
			}
			d.Counts[l.name] = page.Count
		}
		return nil
	}
	d.Status = &statusView{}
	if err := k.get("/policy/api/v1/kordon/status", d.Status); err != nil {
		return err
	}
	d.Since = max(d.Status.EventsFrom, d.Status.Revision-200)
	for i := range d.Status.Clusters {
		cl := &d.Status.Clusters[i]
		if cl.State != "Up" {
			if err := k.get("/policy/api/v1/kordon/clusters/"+url.PathEscape(cl.Name), cl); err != nil {
				return err
			}
		}
	}
	agents, err := listAll[agentView](k, "/policy/api/v1/kordon/agents", 1000)
	if err != nil {
		return err
	}
	d.Agents = agents
	return nil
}
