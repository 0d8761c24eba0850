package serve

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kordon-dev/kordon/examples"
	"github.com/kordon-dev/kordon/internal/adapter"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
)

// sources starts what feeds the manager inventory without an adapter: a
// directory of kubectl dumps, watched for changes, or — with no cluster
// registered and no directory — the examples, as a labelled demo.
// Every goroutine it starts is in wg, and ends with ctx.
func sources(ctx context.Context, o Options, m *manager.Manager, wg *sync.WaitGroup) error {
	if err := inProcess(ctx, o, m, wg); err != nil {
		return err
	}
	if o.InventoryDir != "" {
		removeDemo(ctx, o, m)
		d := &dirSource{dir: o.InventoryDir, m: m, o: o}
		d.sync(ctx) // before serving, so the first requests see it
		wg.Go(func() { d.watch(ctx) })
		return nil
	}
	if o.NoDemo {
		return nil
	}
	for _, c := range m.Clusters() {
		if !c.Demo {
			return nil // real clusters: no demo
		}
	}
	if err := loadDemo(ctx, o, m); err != nil {
		o.Logger.Warn("the demo could not be loaded", "error", err)
	}
	return nil
}

// inProcess runs an adapter inside the manager for each --cluster
// NAME=KUBECONFIG, registering the cluster on first use.
func inProcess(ctx context.Context, o Options, m *manager.Manager, wg *sync.WaitGroup) error {
	type job struct {
		name string
		opts adapter.Options
	}
	var jobs []job
	for _, spec := range o.Clusters {
		name, kubeconfig, ok := strings.Cut(spec, "=")
		if !ok || name == "" || kubeconfig == "" {
			return fmt.Errorf("--cluster %q: use NAME=KUBECONFIG", spec)
		}
		cfg, err := adapter.RestConfig(kubeconfig)
		if err != nil {
			return fmt.Errorf("--cluster %s: %w", name, err)
		}
		ao := adapter.Options{Cluster: name, Logger: o.Logger.With("adapter", "in-process"), Sink: &LocalSink{M: m, Cluster: name},
			Heartbeat: o.Heartbeat, Version: o.Version}
		if err := ao.WithClients(cfg); err != nil {
			return fmt.Errorf("--cluster %s: %w", name, err)
		}
		jobs = append(jobs, job{name, ao})
	}
	for _, j := range jobs {
		registered := false
		for _, c := range m.Clusters() {
			if c.Name != j.name {
				continue
			}
			if c.Source != manager.SourceInProcess {
				return fmt.Errorf("--cluster %s: a cluster of that name is already registered (source %s); deregister it first or choose another name", j.name, c.Source)
			}
			registered = true
		}
		if !registered {
			if _, _, err := m.RegisterCluster(ctx, j.name, manager.SourceInProcess); err != nil {
				return fmt.Errorf("--cluster %s: %w", j.name, err)
			}
			o.Logger.Info("cluster registered for the in-process adapter", "cluster", j.name)
		}
		wg.Go(func() {
			if err := adapter.New(j.opts).Run(ctx); err != nil {
				o.Logger.Error("in-process adapter stopped", "cluster", j.name, "error", err)
			}
		})
	}
	return nil
}

func removeDemo(ctx context.Context, o Options, m *manager.Manager) {
	for _, c := range m.Clusters() {
		if c.Demo {
			if err := m.RemoveCluster(ctx, c.Name); err != nil {
				o.Logger.Warn("removing demo cluster", "cluster", c.Name, "error", err)
			}
		}
	}
}

// loadDemo loads the example inventory and, into an installation without
// any policy object, the example policy, every object tagged
// kordon/demo.
func loadDemo(ctx context.Context, o Options, m *manager.Manager) error {
	d, err := examples.Inventory()
	if err != nil {
		return err
	}
	byCluster := map[string][]inventory.Object{}
	for _, obj := range d.Objects {
		byCluster[obj.GetMeta().Cluster] = append(byCluster[obj.GetMeta().Cluster], obj)
	}
	for _, c := range d.Clusters {
		if _, err := m.SyncCluster(ctx, manager.Cluster{Name: c, ID: c, Source: manager.SourceDemo, Demo: true, Registered: time.Now()}, byCluster[c]); err != nil {
			return err
		}
	}
	empty := true
	m.Read(func(v manager.View) { empty = v.Config().Len() == 1 }) // only the default domain
	if empty {
		docs, err := model.ParseDocument("examples/policy.yaml", examples.Policy())
		if err != nil {
			return err
		}
		tagDemo(docs[0].Children)
		if _, err := m.Apply(ctx, manager.ApplyRequest{Doc: docs[0], User: "kordon-demo"}); err != nil {
			return fmt.Errorf("demo policy: %w", err)
		}
	}
	fmt.Fprintf(o.Out, "kordon: DEMO: no cluster is registered and no --inventory was given, so the example clusters %v and policy are loaded (every demo object is tagged kordon|demo). Register a cluster or pass --inventory DIR to leave the demo.\n", d.Clusters)
	o.Logger.Info("demo loaded", "clusters", d.Clusters)
	return nil
}

func tagDemo(children model.ChildList) {
	for _, c := range children {
		if c.Object != nil {
			m := c.Object.GetMeta()
			m.Tags = append(m.Tags, model.Tag{Scope: "kordon", Tag: "demo"})
			switch x := c.Object.(type) {
			case *model.Domain:
				tagDemo(x.Children)
			case *model.SecurityPolicy:
				for _, r := range x.Rules {
					r.Tags = append(r.Tags, model.Tag{Scope: "kordon", Tag: "demo"})
				}
			case *model.GatewayPolicy:
				for _, r := range x.Rules {
					r.Tags = append(r.Tags, model.Tag{Scope: "kordon", Tag: "demo"})
				}
			}
		}
		tagDemo(c.Children)
	}
}

// dirSource serves a kubectl-dump directory as inventory: each
// subdirectory a cluster, reloaded when a file changes.
type dirSource struct {
	dir  string
	m    *manager.Manager
	o    Options
	last [32]byte
}

// fingerprint summarises the directory's files (names, sizes, times), so
// a poll notices any change without reading them.
func (d *dirSource) fingerprint() [32]byte {
	h := sha256.New()
	_ = filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintf(h, "error %s %v\n", p, err)
			return nil
		}
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func (d *dirSource) sync(ctx context.Context) {
	d.last = d.fingerprint()
	dump, err := inventory.LoadDir(d.dir)
	if err != nil {
		d.o.Logger.Error("reading the inventory directory", "dir", d.dir, "error", err)
		return
	}
	for _, p := range dump.Problems {
		d.o.Logger.Warn("inventory object skipped", "problem", p.String())
	}
	byCluster := map[string][]inventory.Object{}
	for _, obj := range dump.Objects {
		byCluster[obj.GetMeta().Cluster] = append(byCluster[obj.GetMeta().Cluster], obj)
	}
	others := map[string]string{}
	for _, c := range d.m.Clusters() {
		if c.Source != manager.SourceDir && !c.Demo {
			others[c.Name] = c.Source
		}
	}
	for _, c := range dump.Clusters {
		if src, ok := others[c]; ok {
			d.o.Logger.Error("inventory directory names a cluster registered otherwise; skipped", "cluster", c, "source", src)
			continue
		}
		if _, err := d.m.SyncCluster(ctx, manager.Cluster{Name: c, ID: c, Source: manager.SourceDir, Registered: time.Now()}, byCluster[c]); err != nil {
			d.o.Logger.Error("storing inventory", "cluster", c, "error", err)
		}
	}
	for _, c := range d.m.Clusters() {
		if c.Source == manager.SourceDir && !slices.Contains(dump.Clusters, c.Name) {
			if err := d.m.RemoveCluster(ctx, c.Name); err != nil {
				d.o.Logger.Error("removing cluster", "cluster", c.Name, "error", err)
			}
		}
	}
	d.o.Logger.Info("inventory directory loaded", "dir", d.dir, "clusters", dump.Clusters, "objects", len(dump.Objects), "skipped", len(dump.Problems))
}

func (d *dirSource) watch(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if d.fingerprint() != d.last {
				d.sync(ctx)
			}
		}
	}
}
