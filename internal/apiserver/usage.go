package apiserver

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/model"
)

// reference is one use of an object: the object that names it and the
// field it is named in.
type reference struct {
	from, field string
}

// referrers lists, in path order, the uses of the object at target and of
// everything below it (a domain's groups, a policy's rules) by objects
// that would outlive its deletion: rules naming a group or gateway in
// their sources, destinations or scope, or a service; policies naming a
// group or gateway in their scope; groups including a group; services and
// rules nesting a service; tier-1s attached to a tier-0.
func referrers(cfg *model.Config, target string) []reference {
	inside := func(p string) bool { return p == target || strings.HasPrefix(p, target+"/") }
	var out []reference
	cfg.Each(func(from string, o model.Object) {
		if inside(from) {
			return // uses inside are deleted with it
		}
		model.NamesAt(o, func(field, to string) {
			if inside(to) {
				out = append(out, reference{from, field})
			}
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].from != out[j].from {
			return out[i].from < out[j].from
		}
		return out[i].field < out[j].field
	})
	return out
}

// inUse is the refusal to delete an object others use: 412, as NSX
// answers a precondition that does not hold (its API lists Precondition
// Failed among the errors of deleting a group), and not a status NSX
// clients retry (the Terraform provider retries 400, 409, 429, 500, 503
// and 504 by default), since trying again changes nothing until the uses
// are removed. force=true does not change it: NSX documents the force
// parameter of group deletion as deprecated and ignored, and a rule
// naming a group that no longer exists would match nothing, silently.
// Each use is a related error naming the object and the field; uses the
// caller may not read are counted, not named.
func inUse(r *http.Request, target string, users []reference) *APIError {
	p := principal(r)
	var shown []reference
	hidden := 0
	for _, u := range users {
		if canRead(p, u.from) {
			shown = append(shown, u)
		} else {
			hidden++
		}
	}
	var names []string
	for _, u := range shown {
		if len(names) == 0 || names[len(names)-1] != u.from {
			names = append(names, u.from)
		}
	}
	const maxNamed = 10
	list := strings.Join(names[:min(len(names), maxNamed)], ", ")
	if len(names) > maxNamed {
		list += fmt.Sprintf(" and %d more", len(names)-maxNamed)
	}
	if hidden > 0 {
		if list != "" {
			list += "; "
		}
		list += fmt.Sprintf("%d uses by objects you cannot read", hidden)
	}
	e := apiError(http.StatusPreconditionFailed, codeInUse,
		fmt.Sprintf("%s is in use and cannot be deleted (force=true does not change that): %s; remove those uses first", target, list), nil)
	for _, u := range shown {
		e.RelatedErrors = append(e.RelatedErrors, RelatedError{HTTPStatus: e.HTTPStatus, ErrorCode: codeInUse, ModuleName: "kordon",
			ErrorMessage: fmt.Sprintf("%s uses %s in %s", u.from, target, u.field), Path: u.from, Field: u.field})
	}
	return e
}

// canRead reports whether p may read the object at path: the access
// reading it at its own route needs (SpaceRead on its space).
func canRead(p access.Principal, path string) bool {
	return readable(p)(path)
}

// projectPathPrefix starts the paths of a project's objects.
var projectPathPrefix = strings.TrimSuffix(model.Space("p"), "p")

// readable returns canRead for one principal, deciding once per space
// (search asks for every object).
func readable(p access.Principal) func(path string) bool {
	decided := map[string]bool{}
	return func(path string) bool {
		project, ok := "", true
		if rest, in := strings.CutPrefix(path, projectPathPrefix); in {
			project, _, ok = strings.Cut(rest, "/")
		}
		if !ok {
			return false
		}
		allowed, seen := decided[project]
		if !seen {
			allowed = access.Decide(access.SpaceRead, p, access.Target{Project: project}) == nil
			decided[project] = allowed
		}
		return allowed
	}
}
