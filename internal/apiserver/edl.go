package apiserver

import (
	"net/http"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
)

// edl serves a group's addresses as an external dynamic list: one entry a
// line, the format Palo Alto EDLs and FortiGate external threat feeds
// read. /edl/v1/<group path>, e.g. /edl/v1/infra/domains/default/groups/web.
// Entries are IPs, CIDRs and a-b ranges; ?format=cidr writes only CIDRs.
// Address+port members cannot be expressed in these lists and are left
// out. The store revision is in the X-Kordon-Revision header.
func (s *Server) edl(w http.ResponseWriter, r *http.Request) {
	group := model.Ref{Project: space(r), Domain: r.PathValue("domain"), Kind: model.KindGroup, ID: r.PathValue("id")}.Path()
	cidr := r.URL.Query().Get("format") == "cidr"
	var body strings.Builder
	var rev int64
	found := false
	s.m.Read(func(v manager.View) {
		if _, found = v.Config().Groups[group]; !found {
			return
		}
		rev = v.Revision()
		for _, rg := range v.Index().Addresses(group) {
			if cidr {
				for _, p := range rangePrefixes(rg) {
					body.WriteString(p + "\n")
				}
				continue
			}
			body.WriteString(address.FormatRange(rg) + "\n")
		}
	})
	if !found {
		writeError(w, notFound(group+" does not exist"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Kordon-Revision", strconv.FormatInt(rev, 10))
	w.Write([]byte(body.String()))
}

func rangePrefixes(r netipx.IPRange) []string {
	var out []string
	for _, p := range r.Prefixes() {
		out = append(out, p.String())
	}
	return out
}
