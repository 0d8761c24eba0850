package console

import (
	"net/http"
	"strconv"
)

type traceForm struct {
	Mode                             string
	FromPod, To, Protocol, Port      string
	From, ToService, ToIngress, ToGW string
	Gateway                          string
}

type traceData struct {
	Form     traceForm
	Result   *traceResult
	Error    string
	Gateways []string
}

type traceFlow struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
}

type traceDecision struct {
	Firewall   string    `json:"firewall"`
	Gateway    string    `json:"gateway"`
	Flow       traceFlow `json:"flow"`
	Verdict    string    `json:"verdict"`
	RulePath   string    `json:"rule_path"`
	PolicyPath string    `json:"policy_path"`
	Reason     string    `json:"reason"`
	Assumption string    `json:"assumption"`
}

type traceSource struct {
	Address string `json:"address"`
	Via     string `json:"via"`
	Object  string `json:"object"`
	Node    string `json:"node"`
	Reason  string `json:"reason"`
}

type traceHop struct {
	Flow    traceFlow       `json:"flow"`
	Source  *traceSource    `json:"source"`
	Entry   *traceWay       `json:"entry"`
	Gateway []traceDecision `json:"gateway_firewall"`
	DFW     *traceDecision  `json:"distributed_firewall"`
	Verdict string          `json:"verdict"`
	Note    string          `json:"note"`
}

type traceWay struct {
	Address  string `json:"address"`
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	Via      string `json:"via"`
	Object   string `json:"object"`
	Reason   string `json:"reason"`
}

type traceResult struct {
	Direction string `json:"direction"`
	Exit      *struct {
		Pod     string   `json:"pod"`
		PodIPs  []string `json:"pod_ips"`
		PodNode string   `json:"pod_node"`
	} `json:"exit"`
	Target string     `json:"target"`
	Hops   []traceHop `json:"hops"`
	Reason string     `json:"reason"`
}

func (c *Console) trace(k *caller, v *view, r *http.Request) error {
	v.Title, v.Nav = "Trace", "trace"
	q := r.URL.Query()
	f := traceForm{Mode: q.Get("mode"), FromPod: q.Get("from_pod"), To: q.Get("to"), Protocol: q.Get("protocol"), Port: q.Get("port"),
		From: q.Get("from"), ToService: q.Get("to_service"), ToIngress: q.Get("to_ingress"), ToGW: q.Get("to_gateway"), Gateway: q.Get("gateway")}
	if f.Mode != "in" && f.Mode != "out" {
		f.Mode = "out"
		if f.FromPod == "" && f.From != "" {
			f.Mode = "in"
		}
	}
	// What was filled decides when the direction chosen has nothing.
	if f.Mode == "out" && f.FromPod == "" && f.From != "" {
		f.Mode = "in"
	} else if f.Mode == "in" && f.From == "" && f.FromPod != "" {
		f.Mode = "out"
	}
	if f.Protocol == "" {
		f.Protocol = "TCP"
	}
	d := &traceData{Form: f}
	v.Data = d
	for _, t := range []string{"tier-0s", "tier-1s"} {
		gws, err := listAll[struct {
			Path string `json:"path"`
		}](k, "/policy/api/v1/infra/"+t, maxListed)
		if err != nil {
			return err
		}
		for _, g := range gws {
			d.Gateways = append(d.Gateways, g.Path)
		}
	}
	req := map[string]any{}
	switch {
	case f.Mode == "out" && f.FromPod != "":
		port, err := strconv.Atoi(f.Port)
		if err != nil && f.Port != "" {
			d.Error = "port: " + strconv.Quote(f.Port) + " is not a number"
			return nil
		}
		req["from_pod"], req["to"], req["protocol"] = f.FromPod, f.To, f.Protocol
		if f.Port != "" {
			req["port"] = port
		}
	case f.Mode == "in" && f.From != "":
		req["from"] = f.From
		for name, val := range map[string]string{"to_service": f.ToService, "to_ingress": f.ToIngress, "to_gateway": f.ToGW} {
			if val != "" {
				req[name] = val
			}
		}
	default:
		return nil
	}
	if f.Gateway != "" {
		req["gateway"] = f.Gateway
	}
	res := &traceResult{}
	if err := k.post("/policy/api/v1/kordon/trace", req, res); err != nil {
		// A refusal (a link from another site, say) shows the form
		// filled in: the console's own Trace button runs it.
		if s := statusOf(err); s == http.StatusBadRequest || s == http.StatusNotFound || s == http.StatusForbidden {
			d.Error = err.(*apiError).Message
			return nil
		}
		return err
	}
	d.Result = res
	return nil
}
