// Command ociimage writes kordon's container image as an OCI image layout
// (a directory, and the same as one tar file) from static binaries built
// beforehand, one per platform. hack/image.sh runs it.
//
// It needs no daemon and no network, and every byte it writes follows from
// its inputs: file modes, owners and times in the layer are fixed, the
// creation time is the commit's, and JSON is written with sorted keys. Two
// runs over the same binaries give the same image digest, which is what
// lets anyone rebuild a published image and compare.
//
//	go run ./hack/ociimage -out dist/oci -tar dist/kordon.oci.tar \
//	    -name localhost/kordon:v1 -version v1 -revision $(git rev-parse HEAD) \
//	    -created $(git log -1 --format=%ct) linux/amd64=bin/amd64/kordon linux/arm64=bin/arm64/kordon
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Media types of the OCI image specification.
const (
	mtIndex    = "application/vnd.oci.image.index.v1+json"
	mtManifest = "application/vnd.oci.image.manifest.v1+json"
	mtConfig   = "application/vnd.oci.image.config.v1+json"
	mtLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// User is the numeric user and group the image runs as: an empty image has
// no /etc/passwd, and 65532 is the "nonroot" user of distroless images, so
// manifests written for those fit this one.
const User = "65532:65532"

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Input is one platform's binary.
type Input struct {
	OS, Arch, Variant string
	Binary            string
}

// Options are everything that goes into the image besides the binaries.
type Options struct {
	Name     string // reference the layout is tagged with (ctr import, crane push)
	Version  string
	Revision string
	Source   string
	Created  time.Time
}

// Image is an OCI layout held in memory: blobs by digest, and index.json.
type Image struct {
	Digest string // of the image index: the digest a registry shows
	Blobs  map[string][]byte
	Index  []byte // the layout's index.json
}

func (im *Image) add(mediaType string, b []byte) descriptor {
	sum := sha256.Sum256(b)
	d := "sha256:" + hex.EncodeToString(sum[:])
	im.Blobs[d] = b
	return descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}
}

// Build makes the multi-platform image. Platforms keep the order given.
func Build(o Options, inputs []Input) (*Image, error) {
	if len(inputs) == 0 {
		return nil, errors.New("no platform given")
	}
	im := &Image{Blobs: map[string][]byte{}}
	created := o.Created.UTC().Format(time.RFC3339)
	labels := map[string]string{
		"org.opencontainers.image.title":    "kordon",
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.source":   o.Source,
		"org.opencontainers.image.created":  created,
	}
	var manifests []descriptor
	for _, in := range inputs {
		bin, err := os.ReadFile(in.Binary)
		if err != nil {
			return nil, err
		}
		layer, err := layerTar(bin, o.Created)
		if err != nil {
			return nil, err
		}
		diffID := sha256.Sum256(layer)
		gz, err := gzipped(layer)
		if err != nil {
			return nil, err
		}
		config := map[string]any{
			"created":      created,
			"architecture": in.Arch,
			"os":           in.OS,
			"config": map[string]any{
				"User":       User,
				"Entrypoint": []string{"/kordon"},
				"WorkingDir": "/",
				"Labels":     labels,
			},
			"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])}},
			"history": []map[string]string{{"created": created, "created_by": "hack/image.sh: /kordon"}},
		}
		if in.Variant != "" {
			config["variant"] = in.Variant
		}
		cb, err := json.Marshal(config)
		if err != nil {
			return nil, err
		}
		manifest := map[string]any{
			"schemaVersion": 2,
			"mediaType":     mtManifest,
			"config":        im.add(mtConfig, cb),
			"layers":        []descriptor{im.add(mtLayer, gz)},
			"annotations":   labels,
		}
		mb, err := json.Marshal(manifest)
		if err != nil {
			return nil, err
		}
		d := im.add(mtManifest, mb)
		d.Platform = &platform{Architecture: in.Arch, OS: in.OS, Variant: in.Variant}
		manifests = append(manifests, d)
	}
	ib, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtIndex, "manifests": manifests, "annotations": labels})
	if err != nil {
		return nil, err
	}
	top := im.add(mtIndex, ib)
	im.Digest = top.Digest
	if o.Name != "" {
		// containerd names an imported image after the first annotation;
		// the second is the OCI layout's own tag, for crane and skopeo.
		tag := o.Name[strings.LastIndex(o.Name, ":")+1:]
		if !strings.Contains(o.Name[strings.LastIndex(o.Name, "/")+1:], ":") {
			tag = "latest"
		}
		top.Annotations = map[string]string{"io.containerd.image.name": o.Name, "org.opencontainers.image.ref.name": tag}
	}
	im.Index, err = json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtIndex, "manifests": []descriptor{top}})
	return im, err
}

// layerTar is the one layer: /kordon, owned by root, executable by all,
// with the commit's time.
func layerTar(bin []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	h := &tar.Header{Typeflag: tar.TypeReg, Name: "kordon", Mode: 0o755, Size: int64(len(bin)), ModTime: mtime.UTC(), Format: tar.FormatPAX}
	if err := tw.WriteHeader(h); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gzipped compresses with no name and no time in the header, so the
// compressed bytes depend on the content (and the Go release) only.
func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// files are the layout's files by path, in the order they are written.
func (im *Image) files() ([]string, map[string][]byte) {
	m := map[string][]byte{
		"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json": im.Index,
	}
	for d, b := range im.Blobs {
		m["blobs/sha256/"+strings.TrimPrefix(d, "sha256:")] = b
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, m
}

// WriteDir writes the layout into dir, which must not exist yet (a stale
// blob left in it would otherwise ride along).
func (im *Image) WriteDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s exists", dir)
	}
	names, m := im.files()
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, m[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// WriteTar writes the layout as one tar (what `ctr images import` and
// `crane push` read), with fixed owners, modes and times.
func (im *Image) WriteTar(w io.Writer, mtime time.Time) error {
	tw := tar.NewWriter(w)
	names, m := im.files()
	dirs := map[string]bool{}
	for _, n := range names {
		for d := filepath.Dir(n); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	dl := make([]string, 0, len(dirs))
	for d := range dirs {
		dl = append(dl, d)
	}
	sort.Strings(dl) // a parent sorts before its children
	for _, d := range dl {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime.UTC(), Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(m[n])), ModTime: mtime.UTC(), Format: tar.FormatPAX}); err != nil {
			return err
		}
		if _, err := tw.Write(m[n]); err != nil {
			return err
		}
	}
	return tw.Close()
}

// ParseInput reads "os/arch[/variant]=path".
func ParseInput(s string) (Input, error) {
	plat, path, ok := strings.Cut(s, "=")
	parts := strings.Split(plat, "/")
	if !ok || path == "" || len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Input{}, fmt.Errorf("%q: want os/arch[/variant]=binary", s)
	}
	in := Input{OS: parts[0], Arch: parts[1], Binary: path}
	if len(parts) == 3 {
		in.Variant = parts[2]
	} else if in.Arch == "arm64" {
		in.Variant = "v8" // what registries and containerd expect for arm64
	}
	return in, nil
}

func main() {
	var o Options
	var out, tarPath, created string
	flag.StringVar(&out, "out", "", "write the OCI layout into this new directory")
	flag.StringVar(&tarPath, "tar", "", "write the OCI layout as a tar to this file")
	flag.StringVar(&o.Name, "name", "", "image reference to tag the layout with, e.g. registry.example/kordon:v1")
	flag.StringVar(&o.Version, "version", "dev", "org.opencontainers.image.version")
	flag.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision (the commit)")
	flag.StringVar(&o.Source, "source", "https://github.com/kordon-dev/kordon", "org.opencontainers.image.source")
	flag.StringVar(&created, "created", "0", "creation time, in seconds since 1970 (the commit's time keeps builds reproducible)")
	flag.Parse()
	if err := run(o, out, tarPath, created, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func run(o Options, out, tarPath, created string, args []string) error {
	sec, err := strconv.ParseInt(created, 10, 64)
	if err != nil {
		return fmt.Errorf("-created: %v", err)
	}
	o.Created = time.Unix(sec, 0)
	var inputs []Input
	for _, a := range args {
		in, err := ParseInput(a)
		if err != nil {
			return err
		}
		inputs = append(inputs, in)
	}
	im, err := Build(o, inputs)
	if err != nil {
		return err
	}
	if out != "" {
		if err := im.WriteDir(out); err != nil {
			return err
		}
	}
	if tarPath != "" {
		f, err := os.Create(tarPath)
		if err != nil {
			return err
		}
		if err := im.WriteTar(f, o.Created); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	fmt.Println(im.Digest)
	return nil
}
