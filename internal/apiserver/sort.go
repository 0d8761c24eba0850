package apiserver

import (
	"cmp"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
)

// sortSpec is the order of a list: NSX's sort_by and sort_ascending.
type sortSpec struct {
	by  string
	asc bool
}

// order compares two items by one field.
type order[T any] func(a, b T) int

func cmpFold(a, b string) int {
	if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// objectOrders are the fields policy objects sort by. Names compare
// without case first; ties are broken by path, so every order is total
// and paging through a list sees each object once.
var objectOrders = map[string]order[model.Object]{
	"id":           func(a, b model.Object) int { return strings.Compare(a.GetMeta().ID, b.GetMeta().ID) },
	"display_name": func(a, b model.Object) int { return cmpFold(a.GetMeta().DisplayName, b.GetMeta().DisplayName) },
	"path":         func(a, b model.Object) int { return strings.Compare(a.GetMeta().Path, b.GetMeta().Path) },
	"resource_type": func(a, b model.Object) int {
		return strings.Compare(a.GetMeta().ResourceType, b.GetMeta().ResourceType)
	},
	"_create_time": func(a, b model.Object) int { return cmp.Compare(a.GetMeta().CreateTime, b.GetMeta().CreateTime) },
	"_last_modified_time": func(a, b model.Object) int {
		return cmp.Compare(a.GetMeta().LastModifiedTime, b.GetMeta().LastModifiedTime)
	},
	"sequence_number": func(a, b model.Object) int { return cmp.Compare(sequenceOf(a), sequenceOf(b)) },
}

func sequenceOf(o model.Object) int64 {
	switch x := o.(type) {
	case *model.SecurityPolicy:
		return x.SequenceNumber
	case *model.GatewayPolicy:
		return x.SequenceNumber
	case *model.Rule:
		return x.SequenceNumber
	}
	return 0
}

func byPath(a, b model.Object) int { return strings.Compare(a.GetMeta().Path, b.GetMeta().Path) }

// projectOrders are the fields projects sort by.
var projectOrders = map[string]order[manager.Project]{
	"id":                  func(a, b manager.Project) int { return strings.Compare(a.ID, b.ID) },
	"display_name":        func(a, b manager.Project) int { return cmpFold(a.DisplayName, b.DisplayName) },
	"_create_time":        func(a, b manager.Project) int { return cmp.Compare(a.CreateTime, b.CreateTime) },
	"_last_modified_time": func(a, b manager.Project) int { return cmp.Compare(a.LastModifiedTime, b.LastModifiedTime) },
}

// parseSort reads sort_by (one of orders; def when absent) and
// sort_ascending (true when absent).
func parseSort[T any](r *http.Request, def string, orders map[string]order[T]) (sortSpec, error) {
	q := r.URL.Query()
	spec := sortSpec{by: def, asc: true}
	if v := q.Get("sort_by"); v != "" {
		if _, ok := orders[v]; !ok {
			names := make([]string, 0, len(orders))
			for n := range orders {
				names = append(names, n)
			}
			sort.Strings(names)
			return spec, badRequest("sort_by "+strconv.Quote(v)+" is not a field this list sorts by: "+strings.Join(names, ", "), nil)
		}
		spec.by = v
	}
	if v := q.Get("sort_ascending"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return spec, badRequest("sort_ascending must be true or false, not "+strconv.Quote(v), nil)
		}
		spec.asc = b
	}
	return spec, nil
}

// sortItems orders items by spec, ties broken by tie; descending is the
// ascending order reversed, so both are total and stable.
func sortItems[T any](items []T, spec sortSpec, orders map[string]order[T], tie order[T]) {
	by := orders[spec.by]
	slices.SortStableFunc(items, func(a, b T) int {
		c := by(a, b)
		if c == 0 {
			c = tie(a, b)
		}
		if !spec.asc {
			c = -c
		}
		return c
	})
}
