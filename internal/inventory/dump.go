package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/kordon-dev/kordon/internal/textdoc"
)

// Problem is something in a dump kordon could not read. The object it
// concerns is skipped; everything else is kept.
type Problem struct {
	File     string `json:"file"`
	Position string `json:"position,omitempty"` // e.g. "document 2, line 14, items[3]"
	Object   string `json:"object,omitempty"`   // e.g. "Service shop/web", when known
	Reason   string `json:"reason"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Position != "" {
		b.WriteString(" (" + p.Position + ")")
	}
	if p.Object != "" {
		b.WriteString(": " + p.Object)
	}
	b.WriteString(": " + p.Reason)
	return b.String()
}

// Dump is an inventory read from kubectl output: DIR/<cluster>/... holds
// what `kubectl get -o yaml|json` printed for that cluster.
type Dump struct {
	Clusters []string
	// Objects with equal labels (or Service selectors) share one map,
	// and must not change it.
	Objects  []Object
	Problems []Problem
	// Ignored counts objects of kinds kordon does not keep (Deployments,
	// ConfigMaps, other projects' CRDs...), in all files.
	Ignored int
	// IgnoredFiles says, for each file that held some, how many objects
	// of each kind kordon does not keep it held, in the order files were
	// read. Their counts add up to Ignored.
	IgnoredFiles []IgnoredFile

	in interner
}

// IgnoredFile is what one file of a cluster's dump held of kinds kordon
// does not keep.
type IgnoredFile struct {
	Cluster string        `json:"cluster"`
	File    string        `json:"file"`
	Kinds   []IgnoredKind `json:"kinds"` // sorted by kind, then API version
	Count   int           `json:"count"` // the sum of Kinds' counts
}

// IgnoredKind counts the objects of one kind and API version.
type IgnoredKind struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Count      int    `json:"count"`
}

// IgnoredByCluster sums IgnoredFiles per cluster; clusters without
// ignored objects are absent.
func (d *Dump) IgnoredByCluster() map[string]int {
	out := map[string]int{}
	for _, f := range d.IgnoredFiles {
		out[f.Cluster] += f.Count
	}
	return out
}

func (d *Dump) ignore(cluster, file string, h header) {
	d.Ignored++
	var f *IgnoredFile
	if n := len(d.IgnoredFiles); n > 0 && d.IgnoredFiles[n-1].Cluster == cluster && d.IgnoredFiles[n-1].File == file {
		f = &d.IgnoredFiles[n-1]
	} else {
		d.IgnoredFiles = append(d.IgnoredFiles, IgnoredFile{Cluster: cluster, File: file})
		f = &d.IgnoredFiles[n]
	}
	f.Count++
	i, found := slices.BinarySearchFunc(f.Kinds, IgnoredKind{APIVersion: h.APIVersion, Kind: h.Kind}, func(a, b IgnoredKind) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.APIVersion, b.APIVersion)
	})
	if !found {
		f.Kinds = slices.Insert(f.Kinds, i, IgnoredKind{APIVersion: h.APIVersion, Kind: h.Kind})
	}
	f.Kinds[i].Count++
}

// LoadDir reads an inventory directory: each subdirectory is a cluster
// named after it, holding .yaml, .yml and .json files (in any
// subdirectory) with single objects, kind: List objects or multi-document
// YAML streams. Malformed objects are reported in Problems and skipped.
// The error is for a directory that cannot be read at all.
func LoadDir(dir string) (*Dump, error) {
	clusters, problems, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	d := &Dump{Clusters: clusters, Problems: problems}
	for _, name := range clusters {
		if err := d.loadCluster(name, filepath.Join(dir, name)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ReadDir lists the clusters of an inventory directory (its
// subdirectories, sorted) and reports manifests outside of them. The
// error is for a directory that cannot be read or holds no cluster.
func ReadDir(dir string) (clusters []string, problems []Problem, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("inventory %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if !e.IsDir() {
			if isManifest(name) {
				problems = append(problems, Problem{File: filepath.Join(dir, name), Reason: "files must be inside a cluster directory (" + filepath.Join(dir, "<cluster>", name) + ")"})
			}
			continue
		}
		clusters = append(clusters, name)
	}
	sort.Strings(clusters)
	if len(clusters) == 0 {
		return nil, problems, fmt.Errorf("inventory %s: no cluster directories (expected %s)", dir, filepath.Join(dir, "<cluster>", "*.yaml"))
	}
	return clusters, problems, nil
}

func isManifest(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// ClusterFiles lists the files LoadDir reads in a cluster's directory,
// in the order it reads them.
func ClusterFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") && p != root {
			return filepath.SkipDir
		}
		if !e.IsDir() && isManifest(e.Name()) && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("inventory %s: %w", root, err)
	}
	sort.Strings(files)
	return files, nil
}

func (d *Dump) loadCluster(cluster, root string) error {
	files, err := ClusterFiles(root)
	if err != nil {
		return err
	}
	// Keys name their cluster: a copy can only be within one, so where
	// each object was read is kept for one cluster at a time.
	seen := map[Key]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			d.Problems = append(d.Problems, Problem{File: f, Reason: "cannot read: " + err.Error()})
			continue
		}
		d.loadFile(cluster, f, data, seen)
	}
	return nil
}

// File is one file of a cluster's directory: its name, and its content
// or why it could not be read.
type File struct {
	Name string
	Data []byte
	Err  error
}

// LoadCluster reads into d one cluster's files (ClusterFiles names
// them, in order), as LoadDir reads them.
func (d *Dump) LoadCluster(cluster string, files []File) {
	d.Clusters = append(d.Clusters, cluster)
	seen := map[Key]string{}
	for _, f := range files {
		if f.Err != nil {
			d.Problems = append(d.Problems, Problem{File: f.Name, Reason: "cannot read: " + f.Err.Error()})
			continue
		}
		d.loadFile(cluster, f.Name, f.Data, seen)
	}
}

// LoadFile reads one file of a cluster's dump into d.
func (d *Dump) LoadFile(cluster, name string, data []byte) {
	d.loadFile(cluster, name, data, map[Key]string{})
}

func (d *Dump) loadFile(cluster, file string, data []byte, seen map[Key]string) {
	docs, errs := textdoc.Split(file, data)
	for _, e := range errs {
		d.Problems = append(d.Problems, Problem{File: file, Reason: e.Reason})
	}
	for _, doc := range docs {
		pos := ""
		if doc.Where != file {
			pos = strings.TrimSuffix(strings.TrimPrefix(doc.Where, file+" ("), ")")
		}
		d.loadDocument(cluster, file, pos, doc.JSON, seen)
	}
}

type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

func (d *Dump) loadDocument(cluster, file, pos string, data []byte, seen map[Key]string) {
	// The fast path reads the document with one light scan (sniff.go);
	// what it gives up on is decoded as before.
	if items, ok := sniffArray(data); ok {
		for i, it := range items {
			d.loadObject(cluster, file, joinPos(pos, fmt.Sprintf("[%d]", i)), it, seen)
		}
		return
	}
	if h, s, ok := sniffHeader(data); ok {
		if !strings.HasSuffix(h.Kind, "List") {
			d.convertObject(cluster, file, pos, data, h, seen)
			return
		}
		var items [][]byte
		if s.items != nil && string(s.items) != "null" {
			items, ok = sniffArray(s.items)
		}
		if ok {
			for i, it := range items {
				d.loadObject(cluster, file, joinPos(pos, fmt.Sprintf("items[%d]", i)), it, seen)
			}
			return
		}
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			d.Problems = append(d.Problems, Problem{File: file, Position: pos, Reason: err.Error()})
			return
		}
		for i, it := range items {
			d.loadObject(cluster, file, joinPos(pos, fmt.Sprintf("[%d]", i)), it, seen)
		}
		return
	}
	var h header
	if err := json.Unmarshal(data, &h); err != nil {
		d.Problems = append(d.Problems, Problem{File: file, Position: pos, Reason: "not a Kubernetes object: " + err.Error()})
		return
	}
	if strings.HasSuffix(h.Kind, "List") {
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			d.Problems = append(d.Problems, Problem{File: file, Position: pos, Reason: "items: " + err.Error()})
			return
		}
		for i, it := range list.Items {
			d.loadObject(cluster, file, joinPos(pos, fmt.Sprintf("items[%d]", i)), it, seen)
		}
		return
	}
	d.loadObject(cluster, file, pos, data, seen)
}

func joinPos(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

func (d *Dump) loadObject(cluster, file, pos string, data []byte, seen map[Key]string) {
	h, _, ok := sniffHeader(data)
	if !ok {
		h = header{}
		if err := json.Unmarshal(data, &h); err != nil {
			d.Problems = append(d.Problems, Problem{File: file, Position: pos, Reason: "not a Kubernetes object: " + err.Error()})
			return
		}
	}
	d.convertObject(cluster, file, pos, data, h, seen)
}

func (d *Dump) convertObject(cluster, file, pos string, data []byte, h header, seen map[Key]string) {
	desc := h.Kind
	if h.Metadata.Namespace != "" {
		desc += " " + h.Metadata.Namespace + "/" + h.Metadata.Name
	} else if h.Metadata.Name != "" {
		desc += " " + h.Metadata.Name
	}
	if h.Kind == "" || h.APIVersion == "" {
		d.Problems = append(d.Problems, Problem{File: file, Position: pos, Object: desc, Reason: "missing apiVersion or kind"})
		return
	}
	obj, err := Convert(cluster, Source{APIVersion: h.APIVersion, Kind: h.Kind}, data)
	if errors.Is(err, ErrIgnored) {
		d.ignore(cluster, file, h)
		return
	}
	if err == nil {
		err = Validate(obj)
	}
	if err != nil {
		d.Problems = append(d.Problems, Problem{File: file, Position: pos, Object: desc, Reason: err.Error()})
		return
	}
	where := file
	if pos != "" {
		where += " (" + pos + ")"
	}
	k := KeyOf(obj)
	if prev, dup := seen[k]; dup {
		d.Problems = append(d.Problems, Problem{File: file, Position: pos, Object: desc, Reason: "already defined at " + prev + "; this copy is skipped"})
		return
	}
	seen[k] = where
	d.in.object(obj)
	d.Objects = append(d.Objects, obj)
}
