package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// pristine makes a data directory with an embedded etcd that wrote a few
// thousand keys, some in large transactions, and was closed cleanly.
func pristine(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s := open(t, Options{DataDir: dir, UnsafeNoFsync: true})
	ctx := context.Background()
	val := strings.Repeat("v", 2000)
	for tx := range 4 {
		var ops []Op
		for i := range 500 {
			ops = append(ops, Op{Key: fmt.Sprintf("/t/%d/%d", tx, i), Value: []byte(val)})
		}
		if _, err := s.Commit(ctx, nil, ops); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		if _, err := s.Commit(ctx, nil, []Op{{Key: fmt.Sprintf("/small/%d", i), Value: []byte("x")}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	return dir
}

// copyDir copies a data directory's regular files.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o700)
		case d.Type().IsRegular():
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			defer out.Close()
			_, err = io.Copy(out, in)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func newestWAL(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "etcd", "member", "wal", "*.wal"))
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no WAL file")
	}
	return files[len(files)-1]
}

// dataEnd is where the records of a (preallocated) WAL file end.
func dataEnd(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	return int64(end)
}

func flip(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	f.ReadAt(b, off)
	for i := range b {
		b[i] ^= 0xff
	}
	f.WriteAt(b, off)
}

// rootPage is the offset of the root bucket's page in a bbolt file, by
// the meta page bbolt uses (the valid one with the highest txid).
func rootPage(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m0, err0 := parseMeta(b)
	if err0 != nil {
		t.Fatal(err0)
	}
	m1, err1 := parseMeta(b[m0.pageSize:])
	m := m0
	if err1 == nil && m1.txid > m0.txid {
		m = m1
	}
	return m.root * uint64(m.pageSize)
}

func dbFile(dir string) string { return filepath.Join(dir, "etcd", "member", "snap", "db") }

// TestDamagedDataDirIsNamed: each kind of damage that makes etcd hang,
// panic or die of SIGBUS is found before etcd starts, and Open answers a
// one-line error naming the file, promptly. The undamaged and a copy of
// a running member's files (as after kill -9) open.
func TestDamagedDataDirIsNamed(t *testing.T) {
	base := pristine(t)
	for _, tt := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string // "" opens
	}{
		{"undamaged", func(*testing.T, string) {}, ""},
		{"WAL cut in the middle of its records (etcd would never be ready)", func(t *testing.T, dir string) {
			w := newestWAL(t, dir)
			os.Truncate(w, dataEnd(t, w)/2)
		}, "the WAL ends at raft index"},
		{"WAL emptied (etcd panics)", func(t *testing.T, dir string) { os.Truncate(newestWAL(t, dir), 0) }, "empty or truncated inside its header"},
		{"WAL bytes flipped", func(t *testing.T, dir string) {
			w := newestWAL(t, dir)
			flip(t, w, dataEnd(t, w)/2, 8)
		}, ".wal is damaged"},
		{"database cut in half (etcd dies of SIGBUS)", func(t *testing.T, dir string) {
			fi, _ := os.Stat(dbFile(dir))
			os.Truncate(dbFile(dir), fi.Size()/2)
		}, "truncated"},
		{"database page header flipped (etcd panics)", func(t *testing.T, dir string) {
			// The root bucket's page: a page in use, wherever this run's
			// writes put it (a page in the middle of the file may be free).
			flip(t, dbFile(dir), int64(rootPage(t, dbFile(dir))), 8)
		}, "db is damaged"},
		{"both meta pages flipped", func(t *testing.T, dir string) {
			flip(t, dbFile(dir), 16, 32)
			flip(t, dbFile(dir), 4096+16, 32)
		}, "both bbolt meta pages are invalid"},
		{"one meta page flipped (bbolt uses the other)", func(t *testing.T, dir string) { flip(t, dbFile(dir), 4096+16, 32) }, ""},
		{"WAL directory gone next to a database", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "etcd", "member", "wal"))
		}, "holds no WAL file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, base)
			tt.damage(t, dir)
			start := time.Now()
			s, err := Open(context.Background(), Options{DataDir: dir, UnsafeNoFsync: true})
			took := time.Since(start)
			if s != nil {
				s.Close()
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want %q", err, tt.want)
			case tt.want != "" && (strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), dir)):
				t.Fatalf("the error is not one line naming the file: %q", err)
			case took > 30*time.Second:
				t.Fatalf("took %s", took)
			}
		})
	}
}

// TestRunningMembersFilesPass: what kill -9 leaves of a member in the
// middle of writing (torn last record, snapshots taken as the log grows)
// passes the check and opens with every acknowledged write. The member
// runs in a child process (this test, re-run), which reports each
// acknowledged commit on its standard output.
func TestRunningMembersFilesPass(t *testing.T) {
	if dir := os.Getenv("KORDON_STORE_WRITER"); dir != "" {
		s, err := Open(context.Background(), Options{DataDir: dir, UnsafeNoFsync: true})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(1)
		}
		for i := 0; ; i++ {
			if _, err := s.Commit(context.Background(), nil, []Op{{Key: fmt.Sprintf("/w/%08d", i), Value: []byte(strings.Repeat("x", 4000))}}); err != nil {
				fmt.Println("commit:", err)
				os.Exit(1)
			}
			fmt.Println(i)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunningMembersFilesPass$")
	cmd.Env = append(os.Environ(), "KORDON_STORE_WRITER="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Past a few snapshots (every snapshotCount entries), then killed.
	acked := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() && acked < 5*snapshotCount {
		if _, err := fmt.Sscan(sc.Text(), &acked); err != nil {
			t.Fatalf("the writer: %s", sc.Text())
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if acked < 5*snapshotCount {
		t.Fatalf("the writer stopped after %d commits", acked+1)
	}
	if err := checkDataDir(filepath.Join(dir, "etcd"), time.Minute); err != nil {
		t.Fatalf("a killed member's files: %v", err)
	}
	s := open(t, Options{DataDir: dir, UnsafeNoFsync: true})
	if _, ok, err := s.Get(context.Background(), fmt.Sprintf("/w/%08d", acked)); err != nil || !ok {
		t.Fatalf("the last acknowledged write, %d, after the kill: %v %v", acked, ok, err)
	}
}
