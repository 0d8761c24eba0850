package apiserver

import (
	"net/http"

	"github.com/kordon-dev/kordon/internal/manager"
)

func (s *Server) projects(w http.ResponseWriter, r *http.Request) {
	spec, err := parseSort(r, "id", projectOrders)
	if err != nil {
		writeError(w, err)
		return
	}
	ps := s.m.Projects()
	sortItems(ps, spec, projectOrders, projectOrders["id"])
	pg, next, err := page(r, ps)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, listResult{Results: nonNil(pg), ResultCount: len(ps), Cursor: next, SortBy: spec.by, SortAscending: spec.asc})
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("project")
	p, ok := s.m.Project(id)
	if !ok {
		writeError(w, notFound("project "+id+" does not exist"))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) putProject(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("project")
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var p manager.Project
	if err := strictJSON(body, &p); err != nil {
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
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("project")
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	if err := s.m.DeleteProject(ctx, id); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": id})
}
