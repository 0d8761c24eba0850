package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func blob(t *testing.T, im *Image, digest string) []byte {
	t.Helper()
	b, ok := im.Blobs[digest]
	if !ok {
		t.Fatalf("no blob %s", digest)
	}
	sum := sha256.Sum256(b)
	if "sha256:"+hex.EncodeToString(sum[:]) != digest {
		t.Fatalf("blob %s has another digest", digest)
	}
	return b
}

// TestLayout reads the image back as a runtime would: index.json, the
// image index, a manifest per platform, its config and its one layer.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	amd, arm := writeFile(t, dir, "amd64", "amd64 binary"), writeFile(t, dir, "arm64", "arm64 binary")
	o := Options{Name: "registry.example/kordon:v1.2.3", Version: "v1.2.3", Revision: "abc123", Source: "https://github.com/kordon-dev/kordon", Created: time.Unix(1700000000, 0)}
	im, err := Build(o, []Input{{OS: "linux", Arch: "amd64", Binary: amd}, {OS: "linux", Arch: "arm64", Variant: "v8", Binary: arm}})
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		Manifests []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(im.Index, &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, im.Index)
	}
	if d := top.Manifests[0]; d.Digest != im.Digest || d.MediaType != mtIndex ||
		d.Annotations["io.containerd.image.name"] != o.Name || d.Annotations["org.opencontainers.image.ref.name"] != "v1.2.3" {
		t.Fatalf("index.json names %+v", d)
	}
	var index struct {
		Manifests   []descriptor      `json:"manifests"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(blob(t, im, im.Digest), &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 2 {
		t.Fatalf("%d platforms, want 2", len(index.Manifests))
	}
	for i, want := range []struct{ arch, variant, content string }{{"amd64", "", "amd64 binary"}, {"arm64", "v8", "arm64 binary"}} {
		d := index.Manifests[i]
		if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != want.arch || d.Platform.Variant != want.variant {
			t.Errorf("manifest %d is for %+v", i, d.Platform)
		}
		var m struct {
			Config descriptor   `json:"config"`
			Layers []descriptor `json:"layers"`
		}
		if err := json.Unmarshal(blob(t, im, d.Digest), &m); err != nil || len(m.Layers) != 1 || m.Config.MediaType != mtConfig || m.Layers[0].MediaType != mtLayer {
			t.Fatalf("manifest %s: %v %+v", want.arch, err, m)
		}
		var cfg struct {
			Architecture string `json:"architecture"`
			Config       struct {
				User       string            `json:"User"`
				Entrypoint []string          `json:"Entrypoint"`
				Labels     map[string]string `json:"Labels"`
			} `json:"config"`
			RootFS struct {
				DiffIDs []string `json:"diff_ids"`
			} `json:"rootfs"`
		}
		if err := json.Unmarshal(blob(t, im, m.Config.Digest), &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.Architecture != want.arch || cfg.Config.User != "65532:65532" || strings.Join(cfg.Config.Entrypoint, " ") != "/kordon" ||
			cfg.Config.Labels["org.opencontainers.image.version"] != "v1.2.3" || cfg.Config.Labels["org.opencontainers.image.revision"] != "abc123" ||
			cfg.Config.Labels["org.opencontainers.image.source"] != o.Source {
			t.Errorf("config of %s: %+v", want.arch, cfg)
		}
		zr, err := gzip.NewReader(bytes.NewReader(blob(t, im, m.Layers[0].Digest)))
		if err != nil {
			t.Fatal(err)
		}
		layer, _ := io.ReadAll(zr)
		if sum := sha256.Sum256(layer); len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Errorf("diff_ids of %s do not match its layer", want.arch)
		}
		tr := tar.NewReader(bytes.NewReader(layer))
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		content, _ := io.ReadAll(tr)
		if h.Name != "kordon" || h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 || string(content) != want.content {
			t.Errorf("layer of %s holds %s mode %o owner %d:%d %q", want.arch, h.Name, h.Mode, h.Uid, h.Gid, content)
		}
		if _, err := tr.Next(); err != io.EOF {
			t.Errorf("layer of %s holds more than /kordon", want.arch)
		}
	}
}

// TestSameInputsSameDigest: the digest depends on the binaries and the
// options, not on where the binaries lie or when the image is built.
func TestSameInputsSameDigest(t *testing.T) {
	o := Options{Version: "v1", Revision: "abc", Created: time.Unix(1700000000, 0)}
	digest := func(o Options, content string) (string, []byte) {
		p := writeFile(t, t.TempDir(), "kordon", content)
		im, err := Build(o, []Input{{OS: "linux", Arch: "amd64", Binary: p}})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := im.WriteTar(&buf, o.Created); err != nil {
			t.Fatal(err)
		}
		return im.Digest, buf.Bytes()
	}
	d1, tar1 := digest(o, "binary")
	d2, tar2 := digest(o, "binary")
	if d1 != d2 || !bytes.Equal(tar1, tar2) {
		t.Fatalf("two builds of the same inputs: %s and %s", d1, d2)
	}
	if d, _ := digest(o, "other binary"); d == d1 {
		t.Error("another binary, the same digest")
	}
	later := o
	later.Created = o.Created.Add(time.Second)
	if d, _ := digest(later, "binary"); d == d1 {
		t.Error("another creation time, the same digest")
	}
}

// TestImageScript builds the image twice with hack/image.sh, from the Go
// sources, into different directories, and wants the same digest and the
// same tar; then runs the image's binary, which must tell the version and
// commit it was given. Only this machine's platform: CI's time is
// better spent than on cross-compiling twice (hack/image.sh --check does
// every platform).
func TestImageScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kordon twice")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	build := func(out string) string {
		cmd := exec.Command("bash", filepath.Join(root, "hack", "image.sh"))
		cmd.Env = append(os.Environ(), "PLATFORMS=linux/"+runtime.GOARCH, "OUT="+out, "VERSION=v9.8.7", "COMMIT=1234567890abcdef1234567890abcdef12345678", "IMAGE=registry.example/kordon:v9.8.7")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hack/image.sh: %v\n%s", err, b)
		}
		lines := strings.Fields(string(b))
		return lines[len(lines)-1]
	}
	a, b := t.TempDir(), filepath.Join(t.TempDir(), "elsewhere")
	da, db := build(a), build(b)
	ta, _ := os.ReadFile(filepath.Join(a, "kordon-oci.tar"))
	tb, _ := os.ReadFile(filepath.Join(b, "kordon-oci.tar"))
	if !strings.HasPrefix(da, "sha256:") || da != db || len(ta) == 0 || !bytes.Equal(ta, tb) {
		t.Fatalf("two builds: %s and %s", da, db)
	}

	// The binary in the layer, as the container runs it.
	var index, manifest struct {
		Manifests []descriptor `json:"manifests"`
		Layers    []descriptor `json:"layers"`
	}
	read := func(digest string) []byte {
		b, err := os.ReadFile(filepath.Join(a, "oci", "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	json.Unmarshal(read(da), &index)
	json.Unmarshal(read(index.Manifests[0].Digest), &manifest)
	zr, err := gzip.NewReader(bytes.NewReader(read(manifest.Layers[0].Digest)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "kordon")
	content, _ := io.ReadAll(tr)
	if err := os.WriteFile(bin, content, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kordon v9.8.7 (commit 1234567890abcdef1234567890abcdef12345678)") {
		t.Fatalf("kordon version in the image: %v\n%s", err, out)
	}
}
