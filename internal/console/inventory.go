package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

type inventoryItem struct {
	Cluster   string   `json:"cluster"`
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
}

type inventoryData struct {
	Clusters []string
	Kinds    []string
	Cluster  string
	Kind     string
	Query    string
	Items    []inventoryItem
	Total    int
	Next     string
	Cursor   string
}

var inventoryKinds = []string{"Node", "Namespace", "Service", "Pod", "Ingress", "Gateway", "Egress", "IPPool", "ExternalIPPool", "VirtualMachine"}

func (c *Console) inventory(k *caller, v *view, r *http.Request) error {
	v.Title, v.Nav, v.Live = "Inventory", "inventory", "cluster,membership"
	q := r.URL.Query()
	d := &inventoryData{Kinds: inventoryKinds, Cluster: q.Get("cluster"), Kind: q.Get("kind"), Query: q.Get("q"), Cursor: q.Get("cursor")}
	v.Data = d
	var st statusView
	if err := k.get("/policy/api/v1/kordon/status", &st); err != nil {
		return err
	}
	for _, cl := range st.Clusters {
		d.Clusters = append(d.Clusters, cl.Name)
	}
	p := url.Values{"page_size": {strconv.Itoa(inventoryPage)}}
	for _, f := range []string{"cluster", "kind", "q", "cursor"} {
		if x := q.Get(f); x != "" {
			p.Set(f, x)
		}
	}
	var page struct {
		Results []inventoryItem `json:"results"`
		Count   int             `json:"result_count"`
		Cursor  string          `json:"cursor"`
	}
	if err := k.get("/policy/api/v1/kordon/inventory/objects?"+p.Encode(), &page); err != nil {
		return err
	}
	d.Items, d.Total, d.Next = page.Results, page.Count, page.Cursor
	return nil
}

type objectData struct {
	Key struct {
		Cluster   string `json:"cluster"`
		Kind      string `json:"kind"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"key"`
	Object        json.RawMessage `json:"object"`
	Contributions []struct {
		MemberType string   `json:"member_type"`
		Key        string   `json:"key"`
		Addresses  []string `json:"addresses"`
		IPPorts    []ipPort `json:"ip_port_members"`
	} `json:"contributions"`
	Groups       []string `json:"groups"`
	DirectGroups []string `json:"direct_groups"`
}

// Pretty is the stored object, indented.
func (o *objectData) Pretty() string {
	var out strings.Builder
	var x any
	if json.Unmarshal(o.Object, &x) == nil {
		b, _ := json.MarshalIndent(x, "", "  ")
		out.Write(b)
	}
	return out.String()
}

// Direct reports whether the object's own criteria put it in group g.
func (o *objectData) Direct(g string) bool { return slices.Contains(o.DirectGroups, g) }

type ipPort struct {
	IP       string `json:"ip"`
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
}

func (p ipPort) String() string { return fmt.Sprintf("%s %s/%d", p.IP, p.Protocol, p.Port) }

func (c *Console) object(k *caller, v *view, r *http.Request) error {
	v.Nav, v.Live = "inventory", "membership,cluster"
	q := r.URL.Query()
	p := url.Values{}
	for _, f := range []string{"cluster", "kind", "namespace", "name"} {
		p.Set(f, q.Get(f))
	}
	d := &objectData{}
	if err := k.get("/policy/api/v1/kordon/inventory/object?"+p.Encode(), d); err != nil {
		return err
	}
	v.Title, v.Data = d.Key.Kind+" "+d.Key.Name, d
	return nil
}
