package apiserver

import (
	"encoding/json"
	"net/http"

	"github.com/kordon-dev/kordon/internal/manager"
)

func (s *Server) projects(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, apiError(http.StatusMethodNotAllowed, codeMethod, "create a project with PUT or PATCH on /orgs/default/projects/{id}", nil))
		return
	}
	ps := s.m.Projects()
	pg, next, err := page(r, ps)
	if err != nil {
		writeError(w, err)
		return
	}
	if pg == nil {
		pg = []manager.Project{}
	}
	writeJSON(w, http.StatusOK, listResult{Results: pg, ResultCount: len(ps), Cursor: next, SortBy: "id", SortAscending: true})
}

func (s *Server) project(w http.ResponseWriter, r *http.Request, id string) {
	switch r.Method {
	case http.MethodGet:
		p, ok := s.m.Project(id)
		if !ok {
			writeError(w, notFound("project "+id+" does not exist"))
			return
		}
		writeJSON(w, http.StatusOK, p)
	case http.MethodPut, http.MethodPatch:
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		var p manager.Project
		dec := json.NewDecoder(bytesReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			writeError(w, badRequest("the project cannot be decoded: "+err.Error(), nil))
			return
		}
		if p.ID == "" {
			p.ID = id
		}
		if p.ID != id {
			writeError(w, badRequest("the body's id does not match the path's", nil))
			return
		}
		ctx, cancel := s.writeCtx(r)
		defer cancel()
		got, err := s.m.PutProject(ctx, p)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, got)
	case http.MethodDelete:
		ctx, cancel := s.writeCtx(r)
		defer cancel()
		if err := s.m.DeleteProject(ctx, id); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"deleted": id})
	default:
		writeError(w, apiError(http.StatusMethodNotAllowed, codeMethod, r.Method+" is not allowed on a project", nil))
	}
}
