package apiserver

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
)

// RoleCluster is the role of a cluster's adapter, authenticated by its
// client certificate: it may only report its own cluster.
const RoleCluster = "cluster"

// certPrincipal authenticates a verified client certificate: its common
// name is the cluster, its organizational unit the kind of identity.
func (s *Server) certPrincipal(r *http.Request) (manager.Principal, error) {
	leaf := r.TLS.VerifiedChains[0][0]
	name := leaf.Subject.CommonName
	if slices.Contains(leaf.Subject.OrganizationalUnit, "agent") {
		if err := s.m.AgentIdentity(name, hex.EncodeToString(leaf.SerialNumber.Bytes())); err != nil {
			return manager.Principal{}, err
		}
		return manager.Principal{Name: "agent:" + name, Role: RoleAgent}, nil
	}
	if !slices.Contains(leaf.Subject.OrganizationalUnit, "cluster") {
		return manager.Principal{}, errors.New("client certificates identify clusters and agents; this one is neither")
	}
	if err := s.m.ClusterIdentity(name, hex.EncodeToString(leaf.SerialNumber.Bytes())); err != nil {
		return manager.Principal{}, err
	}
	return manager.Principal{Name: "cluster:" + name, Role: RoleCluster}, nil
}

// clusterMayCall is what a cluster's identity may do: report its own
// inventory and heartbeat.
func clusterMayCall(p manager.Principal, r *http.Request) bool {
	if p.Role == RoleAgent {
		return agentMayCall(p, r)
	}
	name := strings.TrimPrefix(p.Name, "cluster:")
	base := "/policy/api/v1/kordon/clusters/" + name + "/"
	rest := strings.TrimPrefix(r.URL.Path, base)
	if rest == r.URL.Path {
		return false
	}
	switch rest {
	case "inventory", "heartbeat":
		return r.Method == http.MethodPost
	case "inventory/digest":
		return r.Method == http.MethodGet
	}
	return false
}

// clusters routes /kordon/clusters and below.
func (s *Server) clusters(w http.ResponseWriter, r *http.Request, rest string) {
	rest = strings.Trim(rest, "/")
	if rest == "" {
		switch r.Method {
		case http.MethodGet:
			cs := s.m.ClusterStatuses()
			writeJSON(w, http.StatusOK, listResult{Results: cs, ResultCount: len(cs), SortBy: "name", SortAscending: true})
		case http.MethodPost:
			s.registerCluster(w, r)
		default:
			writeError(w, apiError(http.StatusMethodNotAllowed, codeMethod, "GET or POST", nil))
		}
		return
	}
	name, sub, _ := strings.Cut(rest, "/")
	switch {
	case sub == "" && r.Method == http.MethodGet:
		for _, c := range s.m.ClusterStatuses() {
			if c.Name == name {
				writeJSON(w, http.StatusOK, c)
				return
			}
		}
		writeError(w, notFound("cluster "+name+" is not registered"))
	case sub == "" && r.Method == http.MethodDelete:
		ctx, cancel := s.writeCtx(r)
		defer cancel()
		rep, err := s.m.DeregisterCluster(ctx, name)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	case sub == "bundle" && r.Method == http.MethodGet:
		s.bundle(w, r, name)
	case sub == "inventory/digest" && r.Method == http.MethodGet:
		rev, objs, err := s.m.InventoryDigest(r.Context(), name)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"revision": rev, "objects": objs})
	case sub == "inventory" && r.Method == http.MethodPost:
		s.writeInventory(w, r, name)
	case sub == "heartbeat" && r.Method == http.MethodPost:
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		var hb manager.Heartbeat
		if err := strictJSON(body, &hb); err != nil {
			writeError(w, badRequest("the heartbeat cannot be decoded: "+err.Error(), nil))
			return
		}
		if err := s.m.RecordHeartbeat(r.Context(), name, hb); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"revision": s.m.Revision()})
	default:
		writeError(w, notFound("no cluster API "+r.Method+" "+r.URL.Path))
	}
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (s *Server) registerCluster(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var q struct {
		Name string `json:"name"`
		// Server is the manager URL the adapter will use (default: the
		// URL this request came to).
		Server string `json:"server"`
	}
	if err := strictJSON(body, &q); err != nil {
		writeError(w, badRequest("the registration cannot be decoded: "+err.Error(), nil))
		return
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	c, creds, err := s.m.RegisterCluster(ctx, q.Name, manager.SourceAdapter)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cluster": c, "bundle": s.newBundle(r, c.Name, q.Server, creds)})
}

func (s *Server) newBundle(r *http.Request, name, server string, creds manager.Credentials) manager.Bundle {
	if server == "" {
		server = "https://" + r.Host
	}
	return manager.Bundle{Cluster: name, Server: server, CA: string(s.caPEM), Cert: creds.Cert, Key: creds.Key}
}

func (s *Server) bundle(w http.ResponseWriter, r *http.Request, name string) {
	creds, err := s.m.Credentials(r.Context(), name)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.newBundle(r, name, r.URL.Query().Get("server"), creds))
}

// InventoryWrite is an adapter's change to its cluster's inventory.
type InventoryWrite struct {
	// BaseRevision is the inventory revision the change is based on (from
	// the digest, or the previous write).
	BaseRevision int64 `json:"base_revision"`
	// Sync marks the end of a full synchronisation.
	Sync bool `json:"sync,omitempty"`
	// Upserts are objects in their stored form.
	Upserts []json.RawMessage `json:"upserts,omitempty"`
	// Deletes are object ids: kind/namespace/name.
	Deletes []string `json:"deletes,omitempty"`
}

// maxInventoryBody limits a (decompressed) inventory write: a full
// synchronisation of a large cluster.
const maxInventoryBody = 512 << 20

func (s *Server) writeInventory(w http.ResponseWriter, r *http.Request, cluster string) {
	var q InventoryWrite
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		writeError(w, badRequest("the inventory change cannot be decoded: "+err.Error(), nil))
		return
	}
	upserts := make([]inventory.Object, 0, len(q.Upserts))
	for i, raw := range q.Upserts {
		o, err := inventory.Decode(raw)
		if err != nil {
			writeError(w, badRequest("upserts["+itoa(i)+"]: "+err.Error(), nil))
			return
		}
		upserts = append(upserts, o)
	}
	deletes := make([]inventory.Key, 0, len(q.Deletes))
	for _, id := range q.Deletes {
		k, err := inventory.ParseObjectID(cluster, id)
		if err != nil {
			writeError(w, badRequest("deletes: "+err.Error(), nil))
			return
		}
		deletes = append(deletes, k)
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	rev, err := s.m.WriteInventory(ctx, cluster, q.BaseRevision, upserts, deletes, q.Sync)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revision": rev})
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
