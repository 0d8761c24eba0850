package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kordon-dev/kordon/internal/model"
)

type editData struct {
	New        bool
	Domain, ID string
	// Group and Kinds go to the page's script as JSON data blocks
	// (html/template marshals and escapes them).
	Group   json.RawMessage
	Kinds   []memberTypeSpec
	APIPath string
}

// memberTypeSpec is what the criteria builder offers: for each member
// type, its keys and each key's operators, from kordon's own table, so
// that the builder offers only what validation accepts.
type memberTypeSpec struct {
	Name       string    `json:"name"`
	Scoping    bool      `json:"scoping"`
	Kubernetes bool      `json:"kubernetes"`
	InProjects bool      `json:"in_projects"`
	Keys       []keySpec `json:"keys"`
}

type keySpec struct {
	Key       string   `json:"key"`
	Operators []string `json:"operators"`
	// Value says what the value is: text, tag (scope|tag), clusters, all.
	Value string `json:"value"`
}

var valueForms = map[model.ValueForm]string{model.ValueText: "text", model.ValueTag: "tag", model.ValueClusters: "clusters", model.ValueAll: "all"}

func memberTypeSpecs(project bool) []memberTypeSpec {
	var out []memberTypeSpec
	for _, t := range model.MemberTypes {
		if project && !t.InProjects {
			continue
		}
		s := memberTypeSpec{Name: t.Name, Scoping: t.Scoping, Kubernetes: t.Kubernetes, InProjects: t.InProjects}
		for _, kr := range t.Keys {
			ks := keySpec{Key: kr.Key, Value: valueForms[kr.Value]}
			for _, op := range kr.Operators {
				ks.Operators = append(ks.Operators, op.String())
			}
			s.Keys = append(s.Keys, ks)
		}
		out = append(out, s)
	}
	return out
}

func (c *Console) editGroup(k *caller, v *view, r *http.Request) error {
	q := r.URL.Query()
	v.Nav = "groups"
	d := &editData{Domain: q.Get("domain"), ID: q.Get("id")}
	if d.Domain == "" {
		d.Domain = model.DefaultDomain
	}
	v.Data = d
	d.Kinds = memberTypeSpecs(v.Project != "")
	if d.ID == "" {
		d.New, d.Group, v.Title = true, json.RawMessage(`{"resource_type":"Group","expression":[]}`), "New group"
		d.APIPath = spacePrefix(v.Project) + "/infra/domains/" + url.PathEscape(d.Domain) + "/groups/"
		return nil
	}
	d.APIPath = spacePrefix(v.Project) + "/infra/domains/" + url.PathEscape(d.Domain) + "/groups/" + url.PathEscape(d.ID)
	if err := k.get(d.APIPath, &d.Group); err != nil {
		return err
	}
	v.Title = "Edit group " + d.ID
	return nil
}

type ruleEditData struct {
	New              bool
	Gateway          bool
	PolicyPath, Back string
	APIPath          string
	Object           json.RawMessage
	Actions          []string
}

func (c *Console) editRule(k *caller, v *view, r *http.Request) error {
	q := r.URL.Query()
	ref, err := model.ParsePath(q.Get("policy"))
	if err != nil || ref.Kind != model.KindSecurityPolicy && ref.Kind != model.KindGatewayPolicy {
		return &apiError{Status: http.StatusNotFound, Message: "policy: " + strconv.Quote(q.Get("policy")) + " is not a security or gateway policy path"}
	}
	v.Project = ref.Project
	d := &ruleEditData{Gateway: ref.Kind == model.KindGatewayPolicy, PolicyPath: ref.Path(), Back: link(ref.Path()),
		Actions: []string{model.ActionAllow, model.ActionDrop, model.ActionReject}}
	v.Nav, v.Data = "dfw", d
	if d.Gateway {
		v.Nav = "gfw"
	} else {
		d.Actions = append(d.Actions, model.ActionJumpToApplication)
	}
	id := q.Get("id")
	if id == "" {
		// A new rule goes after the policy's last one.
		var pol policyView
		if err := k.get("/policy/api/v1"+ref.Path(), &pol); err != nil {
			return err
		}
		seq := int64(0)
		for _, rl := range pol.Rules {
			seq = max(seq, rl.SequenceNumber+10)
		}
		d.New, v.Title = true, "New rule in "+pol.DisplayName
		d.APIPath = "/policy/api/v1" + ref.Path() + "/rules/"
		d.Object = json.RawMessage(fmt.Sprintf(`{"resource_type": "Rule", "action": "ALLOW", "direction": "IN_OUT", "ip_protocol": "IPV4_IPV6", "sequence_number": %d}`, seq))
		return nil
	}
	d.APIPath = "/policy/api/v1" + ref.Path() + "/rules/" + url.PathEscape(id)
	if err := k.get(d.APIPath, &d.Object); err != nil {
		return err
	}
	v.Title = "Edit rule " + id
	d.Back = link(ref.Path() + "/rules/" + id)
	return nil
}

type policyEditData struct {
	New, Gateway bool
	Back         string
	APIPath      string
	Object       json.RawMessage
	Categories   []string
}

// editPolicy edits a security or gateway policy's own fields; its rules
// are left as they are (the object is sent without them, which a PUT
// keeps), and edited one by one.
func (c *Console) editPolicy(k *caller, v *view, r *http.Request) error {
	q := r.URL.Query()
	d := &policyEditData{Gateway: q.Get("kind") == "gateway", Categories: model.DFWCategories}
	kind, page := "security-policies", "/ui/dfw"
	v.Nav = "dfw"
	if d.Gateway {
		kind, v.Nav, page, d.Categories = "gateway-policies", "gfw", "/ui/gfw", model.GFWCategories
	}
	v.Data = d
	base := spacePrefix(v.Project) + "/infra/domains/default/" + kind + "/"
	id := q.Get("id")
	if id == "" {
		d.New, d.APIPath, d.Back, v.Title = true, base, v.Q(page), "New policy"
		category := model.CategoryApplication
		if d.Gateway {
			category = model.CategoryLocalGatewayRules
		}
		d.Object = json.RawMessage(fmt.Sprintf(`{"resource_type": %q, "category": %q, "sequence_number": 0}`,
			map[bool]string{false: "SecurityPolicy", true: "GatewayPolicy"}[d.Gateway], category))
		return nil
	}
	d.APIPath = base + url.PathEscape(id)
	if err := k.get(d.APIPath, &d.Object); err != nil {
		return err
	}
	v.Title = "Edit policy " + id
	d.Back = link(model.Ref{Project: v.Project, Domain: model.DefaultDomain, Kind: map[bool]model.Kind{false: model.KindSecurityPolicy, true: model.KindGatewayPolicy}[d.Gateway], ID: id}.Path())
	return nil
}
