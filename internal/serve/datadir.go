package serve

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/kordon-dev/kordon/internal/pki"
)

// The files of a data directory.
const (
	lockFile    = "kordon.lock"
	sealKeyFile = "seal.key"
	tokenFile   = "admin.token"
	caFile      = "ca.crt"
	clientFile  = "client.yaml"
	etcdDir     = "etcd"
)

// dataDir is a data directory this process holds the lock of.
type dataDir struct {
	path string
	lock *os.File
}

// lockDataDir takes the data directory's exclusive lock, so that a second
// manager on the same directory exits at once, naming the first, instead
// of waiting on the store or removing its sockets.
func lockDataDir(dir string) (*dataDir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("data directory %s is writable by other users (mode %v): it holds the installation's keys; chmod 700 it", abs, fi.Mode().Perm())
	}
	f, err := os.OpenFile(filepath.Join(abs, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(filepath.Join(abs, lockFile))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(holder))
			if pid == "" {
				pid = "unknown"
			}
			return nil, fmt.Errorf("data directory %s is in use by another kordon serve (pid %s); stop it first, or use another --data-dir", abs, pid)
		}
		return nil, fmt.Errorf("locking the data directory %s: %w", abs, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &dataDir{path: abs, lock: f}, nil
}

func (d *dataDir) file(name string) string { return filepath.Join(d.path, name) }

func (d *dataDir) exists(name string) bool {
	_, err := os.Lstat(d.file(name))
	return err == nil
}

// unlock releases the lock; the lock file stays.
func (d *dataDir) unlock() {
	_ = d.lock.Close()
}

// writeFile writes a file atomically: a temporary file, synced, renamed
// over the old one, and the directory synced, so a crash leaves the old
// file or the new one, never a part.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// readSealKeys reads the seal keys: the files given (the first seals),
// else the data directory's seal.key. create makes the data directory's
// key when it does not exist yet.
func readSealKeys(d *dataDir, files []string, create bool) (pki.Keyring, error) {
	if len(files) == 0 {
		path := d.file(sealKeyFile)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if !create {
				return nil, nil
			}
			k, err := pki.NewSealKey()
			if err != nil {
				return nil, err
			}
			if err := writeFile(path, k.Marshal(), 0o600); err != nil {
				return nil, fmt.Errorf("writing the seal key %s: %w", path, err)
			}
			return pki.Keyring{k}, nil
		}
		files = []string{path}
	}
	var ring pki.Keyring
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("seal key: %w", err)
		}
		if fi, err := os.Stat(f); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("seal key %s is readable by other users (mode %v); chmod 600 it", f, fi.Mode().Perm())
		}
		k, err := pki.ParseSealKey(bytes.TrimSpace(b))
		if err != nil {
			return nil, fmt.Errorf("seal key %s: %w", f, err)
		}
		ring = append(ring, k)
	}
	return ring, nil
}
