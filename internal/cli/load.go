package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
)

// offline is a configuration and inventory loaded from files.
type offline struct {
	cfg *model.Config
	idx *membership.Index
}

// loadPolicy reads policy files in order, applying each document to the
// default space, and validates the result.
func loadPolicy(files []string) (*model.Config, model.Errors, error) {
	if len(files) == 0 {
		return nil, nil, failf(2, "--policy is required")
	}
	cfg := model.NewConfig()
	var errs model.Errors
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, failf(2, "%v", err)
		}
		docs, err := model.ParseDocument(f, data)
		if err != nil {
			errs = append(errs, model.AsErrors(err)...)
			continue
		}
		for _, d := range docs {
			next, _, err := cfg.Apply("", d)
			if err != nil {
				errs = append(errs, prefixLocation(f, model.AsErrors(err))...)
				continue
			}
			cfg = next
		}
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	return cfg, cfg.Validate(), nil
}

func prefixLocation(file string, errs model.Errors) model.Errors {
	for i := range errs {
		errs[i].Path = file + ": " + errs[i].Path
	}
	return errs
}

// load reads the policy and, when dir is set, the inventory, and computes
// every group's members. Inventory problems are reported to warn; an
// invalid policy is an error that lists every problem.
func load(files []string, dir string, warn io.Writer) (*offline, error) {
	cfg, err := loadValidPolicy(files, warn)
	if err != nil {
		return nil, err
	}
	objs, err := loadInventory(dir, warn)
	if err != nil {
		return nil, err
	}
	return index(cfg, objs)
}

// loadValidPolicy is loadPolicy, with an invalid policy an error that
// lists every problem to warn.
func loadValidPolicy(files []string, warn io.Writer) (*model.Config, error) {
	cfg, verrs, err := loadPolicy(files)
	if err != nil {
		return nil, err
	}
	if len(verrs) > 0 {
		for _, e := range verrs {
			fmt.Fprintln(warn, oneLine(e.Error()))
		}
		return nil, failf(1, "the policy has %s; nothing was evaluated", plural(len(verrs), "problem"))
	}
	return cfg, nil
}

// loadInventory reads the inventory directory, if any, reporting its
// problems to warn. Only the objects are returned: the rest of the dump
// (where each object was read) is not kept.
func loadInventory(dir string, warn io.Writer) ([]inventory.Object, error) {
	if dir == "" {
		return nil, nil
	}
	d, err := inventory.LoadDir(dir)
	if err != nil {
		return nil, failf(2, "%v", err)
	}
	for _, p := range d.Problems {
		fmt.Fprintln(warn, "warning: skipped:", oneLine(p.String()))
	}
	if d.Ignored > 0 {
		fmt.Fprintln(warn, "note:", ignoredSummary(d))
	}
	return d.Objects, nil
}

// index computes every group's members. The index does not change the
// objects, so several may share them.
func index(cfg *model.Config, objs []inventory.Object) (*offline, error) {
	o := &offline{cfg: cfg, idx: membership.New()}
	if err := o.idx.Load(objs, cfg.Groups); err != nil {
		return nil, failf(1, "%v", err)
	}
	return o, nil
}

// ignoredSummary says how many objects of kinds kordon does not keep a
// dump held, most common kinds first.
func ignoredSummary(d *inventory.Dump) string {
	byKind := map[string]int{}
	for _, f := range d.IgnoredFiles {
		for _, k := range f.Kinds {
			byKind[k.Kind] += k.Count
		}
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if byKind[kinds[i]] != byKind[kinds[j]] {
			return byKind[kinds[i]] > byKind[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	var parts []string
	for i, k := range kinds {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("%d more kinds", len(kinds)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%d %s", byKind[k], oneLine(k)))
	}
	return fmt.Sprintf("ignored %s of kinds kordon does not keep (%s)", plural(d.Ignored, "object"), strings.Join(parts, ", "))
}
