package serve

import (
	"context"
	"fmt"
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
