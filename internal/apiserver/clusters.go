package apiserver

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/wire"
)

// certPrincipal authenticates a verified client certificate: its common
// name is the cluster or agent, its organizational unit the kind of
// identity, and its serial must be the one the identity was last issued.
// The chain was verified at the handshake; its validity period is checked
// again because long-lived answers authenticate again while they run.
func (s *Server) certPrincipal(r *http.Request) (access.Principal, error) {
	now := time.Now()
	for _, c := range r.TLS.VerifiedChains[0] {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return access.Principal{}, fmt.Errorf("the client certificate %q is valid from %s to %s", c.Subject.CommonName, c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
		}
	}
	leaf := r.TLS.VerifiedChains[0][0]
	name := leaf.Subject.CommonName
	serial := hex.EncodeToString(leaf.SerialNumber.Bytes())
	switch {
	case slices.Equal(leaf.Subject.OrganizationalUnit, []string{"agent"}):
		if err := s.m.AgentIdentity(name, serial); err != nil {
			return access.Principal{}, err
		}
		return access.AgentPrincipal(name), nil
	case slices.Equal(leaf.Subject.OrganizationalUnit, []string{"cluster"}):
		if err := s.m.ClusterIdentity(name, serial); err != nil {
			return access.Principal{}, err
		}
		return access.ClusterPrincipal(name), nil
	}
	return access.Principal{}, errors.New("client certificates identify clusters and agents; this one is neither")
}

func (s *Server) listClusters(w http.ResponseWriter, r *http.Request) {
	cs := s.m.ClusterStatuses()
	pg, next, err := page(r, cs)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, listResult{Results: nonNil(pg), ResultCount: len(cs), Cursor: next, SortBy: "name", SortAscending: true})
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("cluster")
	for _, c := range s.m.ClusterStatuses() {
		if c.Name == name {
			out := struct {
				manager.ClusterStatus
				// StaleGroups: for a cluster that is not Up, the groups
				// that still hold its members.
				StaleGroups []string `json:"stale_groups,omitempty"`
			}{ClusterStatus: c}
			if c.State != manager.StateUp {
				s.m.Read(func(v manager.View) { out.StaleGroups = v.GroupsHolding(name) })
			}
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeError(w, notFound("cluster "+name+" is not registered"))
}

func (s *Server) deregisterCluster(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	rep, err := s.m.DeregisterCluster(ctx, r.PathValue("cluster"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) inventoryDigest(w http.ResponseWriter, r *http.Request) {
	rev, objs, err := s.m.InventoryDigest(r.Context(), r.PathValue("cluster"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.InventoryDigest{Revision: rev, Objects: objs})
}

// heartbeatBody limits a heartbeat: a status, a few versions and counts.
const heartbeatBody = 16 << 10

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var hb wire.Heartbeat
	if err := strictJSON(body, &hb); err != nil {
		writeError(w, badRequest("the heartbeat cannot be decoded: "+err.Error(), nil))
		return
	}
	if err := s.m.RecordHeartbeat(r.Context(), r.PathValue("cluster"), hb); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revision": s.m.Revision()})
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// optionalServer reads the optional {"server": URL} body of a rotation.
func optionalServer(r *http.Request) (string, error) {
	if r.ContentLength == 0 {
		return "", nil
	}
	body, err := readBody(r)
	if err != nil {
		return "", err
	}
	var q struct {
		Server string `json:"server"`
	}
	if err := strictJSON(body, &q); err != nil {
		return "", badRequest("the request cannot be decoded: "+err.Error(), nil)
	}
	return q.Server, nil
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
	s.answerIdentity(w, r, q.Server, func(ctx context.Context, b *wire.Bundle) (string, any, error) {
		c, creds, err := s.m.RegisterCluster(ctx, q.Name, manager.SourceAdapter)
		b.Cluster, b.Cert, b.Key = c.Name, creds.Cert, creds.Key
		return "cluster", c, err
	})
}

// rotateCluster issues the cluster a new identity and answers with its
// new bundle, the only time its key is seen; the old certificate is
// refused.
func (s *Server) rotateCluster(w http.ResponseWriter, r *http.Request) {
	server, err := optionalServer(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.answerIdentity(w, r, server, func(ctx context.Context, b *wire.Bundle) (string, any, error) {
		c, creds, err := s.m.RotateCluster(ctx, r.PathValue("cluster"))
		b.Cluster, b.Cert, b.Key = c.Name, creds.Cert, creds.Key
		return "cluster", c, err
	})
}

// answerIdentity answers a registration or rotation with the identity's
// record and its bundle: issue registers or rotates and fills the bundle.
func (s *Server) answerIdentity(w http.ResponseWriter, r *http.Request, server string, issue func(context.Context, *wire.Bundle) (string, any, error)) {
	b, err := s.bundleFor(r, server)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	kind, rec, err := issue(ctx, &b)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{kind: rec, "bundle": b})
}

// bundleFor starts a bundle: the manager URL the identity will use (the
// one given, else the one this request came to) and the CA.
func (s *Server) bundleFor(r *http.Request, server string) (wire.Bundle, error) {
	if server == "" {
		server = "https://" + r.Host
	}
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return wire.Bundle{}, badRequest("server: "+strconv.Quote(server)+" is not an https://HOST[:PORT] URL", nil)
	}
	return wire.Bundle{Server: "https://" + u.Host, CA: string(s.caPEM)}, nil
}

func (s *Server) writeInventory(w http.ResponseWriter, r *http.Request) {
	cluster := r.PathValue("cluster")
	var q wire.InventoryWrite
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, apiError(http.StatusRequestEntityTooLarge, codeTooLarge, "the request body is larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes", nil))
			return
		}
		writeError(w, badRequest("the inventory change cannot be decoded: "+err.Error(), nil))
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, badRequest("the inventory change is followed by more than whitespace", nil))
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

func itoa(i int) string { return strconv.Itoa(i) }
