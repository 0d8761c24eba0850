package whatif

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/explain"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

// Side is one configuration with its memberships.
type Side struct {
	Config *model.Config
	Index  *membership.Index
}

// GroupChange is how one group's content differs.
type GroupChange struct {
	Group string `json:"group"`
	// Change is "added", "removed" or "changed".
	Change           string   `json:"change"`
	MembersAdded     []string `json:"members_added,omitempty"`
	MembersRemoved   []string `json:"members_removed,omitempty"`
	AddressesAdded   []string `json:"addresses_added,omitempty"`
	AddressesRemoved []string `json:"addresses_removed,omitempty"`
}

// Groups compares every group of both sides.
func Groups(old, new Side) []GroupChange {
	paths := append(old.Index.Groups(), new.Index.Groups()...)
	sort.Strings(paths)
	paths = slices.Compact(paths)
	out := []GroupChange{}
	for _, p := range paths {
		inOld, inNew := old.Index.Defined(p), new.Index.Defined(p)
		if inOld && inNew && sameContent(old.Index, new.Index, p) {
			continue
		}
		om, nm := memberStrings(old.Index, p, inOld), memberStrings(new.Index, p, inNew)
		oa, na := addressStrings(old.Index, p, inOld), addressStrings(new.Index, p, inNew)
		c := GroupChange{Group: p, Change: "changed",
			MembersAdded: minus(nm, om), MembersRemoved: minus(om, nm), AddressesAdded: minus(na, oa), AddressesRemoved: minus(oa, na)}
		switch {
		case !inOld:
			c.Change = "added"
		case !inNew:
			c.Change = "removed"
		case len(c.MembersAdded)+len(c.MembersRemoved)+len(c.AddressesAdded)+len(c.AddressesRemoved) == 0:
			continue
		}
		out = append(out, c)
	}
	return out
}

// sameContent compares a group's members, addresses and address+port
// members on both sides as the index gives them (sorted), so that only
// the groups that changed, usually few of thousands, are formatted into
// the strings a change is reported in.
func sameContent(old, new *membership.Index, p string) bool {
	return slices.Equal(old.Members(p), new.Members(p)) && slices.Equal(old.Ranges(p), new.Ranges(p)) &&
		slices.Equal(old.IPPorts(p), new.IPPorts(p))
}

func memberStrings(x *membership.Index, p string, defined bool) []string {
	if !defined {
		return nil
	}
	var out []string
	for _, m := range x.Members(p) {
		s := m.Type + " " + m.Key.String()
		if m.ConditionKey != "" {
			s += " (" + m.ConditionKey + ")"
		}
		out = append(out, s)
	}
	return out
}

func addressStrings(x *membership.Index, p string, defined bool) []string {
	if !defined {
		return nil
	}
	var out []string
	for _, r := range x.Ranges(p) {
		out = append(out, address.FormatRange(r))
	}
	for _, m := range x.IPPorts(p) {
		out = append(out, m.String())
	}
	return out
}

// minus returns the elements of a not in b, sorted.
func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// Decision is a firewall's verdict on a flow and the rule that gave it.
type Decision struct {
	Verdict string `json:"verdict"`
	Rule    string `json:"rule"`
}

// FlowChange is a flow that one firewall decides differently.
type FlowChange struct {
	Flow     explain.Flow `json:"flow"`
	Firewall string       `json:"firewall"`
	Old      Decision     `json:"old"`
	New      Decision     `json:"new"`
	// VerdictChanged is false when only the deciding rule changed.
	VerdictChanged bool `json:"verdict_changed"`
}

// Flows decides each flow on both sides, on the DFW (offline Applied To
// semantics) and on every gateway either side defines, and returns the
// decisions that differ.
func Flows(old, new Side, flows []policy.Flow) []FlowChange {
	if len(flows) == 0 {
		return []FlowChange{} // and no ruleset to compile
	}
	points := append([]string{""}, old.Config.Gateways()...)
	for _, g := range new.Config.Gateways() {
		if !slices.Contains(points, g) {
			points = append(points, g)
		}
	}
	slices.Sort(points[1:])
	out := []FlowChange{}
	for _, pt := range points {
		ors := policy.Compile(old.Config, old.Index, policy.Point{Gateway: pt})
		nrs := policy.Compile(new.Config, new.Index, policy.Point{Gateway: pt})
		name := "DFW"
		if pt != "" {
			name = "GFW " + pt
		}
		for _, f := range flows {
			o, n := decision(ors.Evaluate(f)), decision(nrs.Evaluate(f))
			if o == n {
				continue
			}
			out = append(out, FlowChange{Flow: explain.FlowOf(f), Firewall: name, Old: o, New: n, VerdictChanged: o.Verdict != n.Verdict})
		}
	}
	return out
}

func decision(d policy.Decision) Decision {
	out := Decision{Verdict: d.Verdict.String(), Rule: "default"}
	if d.Rule != nil && !d.Rule.Default {
		out.Rule = d.Rule.Path
	}
	return out
}

// ParseFlows reads a CSV flow file: one flow a line as
// src,dst,protocol,port (a header line naming those columns is allowed;
// blank lines and lines starting with # are skipped). For ICMP the port
// column is the ICMP type and may be empty. Errors name the file, the
// line and the field; nothing is returned from a file with an error.
func ParseFlows(name string, r io.Reader) ([]policy.Flow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	var out []policy.Flow
	var errs []error
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		line, _ := cr.FieldPos(0)
		if first && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "src") {
			continue
		}
		if len(rec) != 4 {
			errs = append(errs, fmt.Errorf("%s:%d: want 4 fields (src,dst,protocol,port), got %d", name, line, len(rec)))
			continue
		}
		q := explain.Request{Src: strings.TrimSpace(rec[0]), Dst: strings.TrimSpace(rec[1]), Protocol: strings.TrimSpace(rec[2])}
		if p := strings.TrimSpace(rec[3]); p != "" {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: port: %q is not a number from 0 to 65535", name, line, p))
				continue
			}
			q.Port = uint16(n)
			if proto, perr := address.ParseProto(q.Protocol); perr == nil && (proto == address.ICMP || proto == address.ICMPv6) {
				t := int(n)
				q.ICMPType, q.Port = &t, 0
			}
		}
		f, err := q.Flow()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %v", name, line, err))
			continue
		}
		out = append(out, f)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
