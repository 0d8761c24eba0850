package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
)

// dirSource serves a kubectl-dump directory as inventory: each
// subdirectory a cluster, reloaded when a file changes.
//
// Decoding a dump costs far more than reading it: at 100 clusters and
// 339,000 objects, about 30 s against 1 s to hash every file. So each
// cluster's stored inventory is recorded with the SHA-256 of every file
// it was read from, in the same transaction; a cluster whose files hash
// to what is recorded is not decoded again, on a restart as on a change
// of another cluster's files.
type dirSource struct {
	dir  string
	m    *manager.Manager
	o    Options
	last [32]byte
}

// dirDigest is what is recorded of a cluster's files.
type dirDigest struct {
	// Reader identifies the kordon that read the files: another one may
	// read the same files into other records.
	Reader string       `json:"reader"`
	Files  []fileDigest `json:"files"`
}

type fileDigest struct {
	Name   string `json:"name"` // in the cluster's directory
	SHA256 string `json:"sha256"`
}

// readerID is the SHA-256 of the running executable, or "" when it
// cannot be read (then every cluster is decoded).
var readerID = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
})

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

// dirSync counts what one pass over the directory did.
type dirSync struct {
	decoded, unchanged, objects, skipped int
}

func (d *dirSource) sync(ctx context.Context) dirSync {
	d.last = d.fingerprint()
	var n dirSync
	clusters, problems, err := inventory.ReadDir(d.dir)
	if err != nil {
		d.o.Logger.Error("reading the inventory directory", "dir", d.dir, "error", err)
		return n
	}
	for _, p := range problems {
		d.o.Logger.Warn("inventory object skipped", "problem", p.String())
	}
	registered := map[string]manager.Cluster{}
	for _, c := range d.m.Clusters() {
		registered[c.Name] = c
	}
	for _, c := range clusters {
		if r, ok := registered[c]; ok && r.Source != manager.SourceDir && !r.Demo {
			d.o.Logger.Error("inventory directory names a cluster registered otherwise; skipped", "cluster", c, "source", r.Source)
			continue
		}
		d.syncCluster(ctx, c, registered[c].Source == manager.SourceDir, &n)
	}
	for _, c := range d.m.Clusters() {
		if c.Source == manager.SourceDir && !slices.Contains(clusters, c.Name) {
			if err := d.m.RemoveCluster(ctx, c.Name); err != nil {
				d.o.Logger.Error("removing cluster", "cluster", c.Name, "error", err)
			}
		}
	}
	d.o.Logger.Info("inventory directory loaded", "dir", d.dir, "clusters", clusters, "decoded", n.decoded, "unchanged", n.unchanged,
		"objects", n.objects, "skipped", n.skipped+len(problems))
	return n
}

// syncCluster reads one cluster's files and, unless they are those its
// stored inventory was read from, decodes them and stores what they hold.
func (d *dirSource) syncCluster(ctx context.Context, name string, registered bool, n *dirSync) {
	root := filepath.Join(d.dir, name)
	names, err := inventory.ClusterFiles(root)
	if err != nil {
		d.o.Logger.Error("reading the inventory directory", "dir", root, "error", err)
		return
	}
	files := make([]inventory.File, len(names))
	rec := dirDigest{Reader: readerID(), Files: make([]fileDigest, len(names))}
	for i, f := range names {
		data, err := os.ReadFile(f)
		files[i] = inventory.File{Name: f, Data: data, Err: err}
		// The digest is of the bytes decoded below, whatever the file
		// holds by then.
		sum := "unreadable"
		if err == nil {
			h := sha256.Sum256(data)
			sum = hex.EncodeToString(h[:])
		}
		rel, _ := filepath.Rel(root, f)
		rec.Files[i] = fileDigest{Name: rel, SHA256: sum}
	}
	digest, err := json.Marshal(rec)
	if err != nil {
		d.o.Logger.Error("recording the inventory directory", "cluster", name, "error", err)
		return
	}
	if registered && rec.Reader != "" {
		prev, err := d.m.DirDigest(ctx, name)
		if err != nil {
			d.o.Logger.Warn("reading what the inventory was read from; decoding it again", "cluster", name, "error", err)
		} else if bytes.Equal(prev, digest) {
			n.unchanged++
			return
		}
	}
	dump := &inventory.Dump{}
	dump.LoadCluster(name, files)
	for _, p := range dump.Problems {
		d.o.Logger.Warn("inventory object skipped", "problem", p.String())
	}
	n.decoded++
	n.objects += len(dump.Objects)
	n.skipped += len(dump.Problems)
	c := manager.Cluster{Name: name, ID: name, Source: manager.SourceDir, Registered: time.Now()}
	if _, err := d.m.SyncDirCluster(ctx, c, dump.Objects, digest); err != nil {
		d.o.Logger.Error("storing inventory", "cluster", name, "error", err)
	}
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
