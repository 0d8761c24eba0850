// Package examples embeds kordon's example inventory and policy, so that a
// manager started with nothing else to show serves them as a demo.
package examples

import (
	"embed"
	"io/fs"
	"path"
	"sort"

	"github.com/kordon-dev/kordon/internal/inventory"
)

//go:embed policy.yaml inventory
var files embed.FS

// Policy returns the example policy document.
func Policy() []byte {
	b, _ := files.ReadFile("policy.yaml")
	return b
}

// Inventory reads the example inventory: two clusters, as kubectl
// printed them.
func Inventory() (*inventory.Dump, error) {
	d := &inventory.Dump{}
	clusters, err := fs.ReadDir(files, "inventory")
	if err != nil {
		return nil, err
	}
	for _, c := range clusters {
		d.Clusters = append(d.Clusters, c.Name())
		err := fs.WalkDir(files, path.Join("inventory", c.Name()), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := files.ReadFile(p)
			if err != nil {
				return err
			}
			d.LoadFile(c.Name(), p, b)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(d.Clusters)
	return d, nil
}
