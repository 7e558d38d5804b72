package server

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/engine/process"
)

// snapshotFile holds the configuration the prefork supervisor last
// checked (at start, then at each reload it accepts), for the workers it
// starts: a worker restarted after a crash serves what the others serve,
// not a file edited since and never reloaded. It lives in a directory
// only weft's user can read, and is replaced by a rename, so that a
// starting worker reads one whole snapshot.
type snapshotFile struct {
	dir    string
	path   string
	remove func() // removes dir
}

// newSnapshotFile writes c's snapshot to a new private file.
func newSnapshotFile(c *config.Config) (*snapshotFile, error) {
	dir, err := os.MkdirTemp("", "weft-config-")
	if err != nil {
		return nil, fmt.Errorf("weft: configuration for the workers: %w", err)
	}
	f := &snapshotFile{dir: dir, path: filepath.Join(dir, "config"), remove: temporary(dir)}
	if err := f.write(c); err != nil {
		f.remove()
		return nil, err
	}
	return f, nil
}

// write replaces the snapshot with c's: the file's name, a NUL (which no
// path holds), then its contents.
func (f *snapshotFile) write(c *config.Config) error {
	s := c.Snapshot()
	tmp := f.path + ".new"
	data := append(append([]byte(s.File), 0), s.Data...)
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("weft: configuration for the workers: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("weft: configuration for the workers: %w", err)
	}
	return nil
}

// WorkerSnapshot returns the configuration a prefork worker's supervisor
// gave it to serve (see process.EnvConfig), or nil when this process is
// not such a worker.
func WorkerSnapshot() (*config.Snapshot, error) {
	name := os.Getenv(process.EnvConfig)
	if !process.IsWorker() || name == "" {
		return nil, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("weft: worker: configuration: %w", err)
	}
	file, rest, ok := bytes.Cut(data, []byte{0})
	if !ok {
		return nil, fmt.Errorf("weft: worker: configuration %s: malformed", name)
	}
	return &config.Snapshot{File: string(file), Data: rest}, nil
}
