package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/weft-server/weft/internal/manifest"
	"github.com/weft-server/weft/internal/origin"
	"github.com/weft-server/weft/internal/site"
)

// Origin is how weft reaches this server: the config of an s3:// root.
func (s *S3) Origin() origin.Config {
	return origin.Config{Endpoint: "http://" + s.Endpoint, PathStyle: true, AccessKey: s.AccessKey, SecretKey: s.SecretKey,
		Poll: 200 * time.Millisecond, Timeout: 3 * time.Second}
}

// Client is a minio client of this server, for a test to fill buckets.
func (s *S3) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// MakeBucket creates the bucket name.
func (s *S3) MakeBucket(t testing.TB, name string) {
	t.Helper()
	if err := s.Client(t).MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatal(err)
	}
}

// Put writes one object.
func (s *S3) Put(t testing.TB, bucket, key string, body []byte) {
	t.Helper()
	_, err := s.Client(t).PutObject(context.Background(), bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// PutTree uploads the regular files beneath dir as keys beneath prefix (a
// symbolic link whose target stays beneath dir as a copy of its target,
// as the default symlink policy serves it; other links and FIFOs not at
// all), then sets each local file's time to its object's LastModified, so
// that dir describes the bucket to the suite's checks.
func (s *S3) PutTree(t testing.TB, bucket, prefix, dir string) {
	t.Helper()
	c := s.Client(t)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := os.Stat(p) // follows links
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(p)
			if err != nil || !strings.HasPrefix(target, dir+string(filepath.Separator)) {
				return nil
			}
		}
		rel, _ := filepath.Rel(dir, p)
		key := filepath.ToSlash(rel)
		if prefix != "" {
			key = prefix + "/" + key
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s.Put(t, bucket, key, body)
		oi, err := c.StatObject(context.Background(), bucket, key, minio.StatObjectOptions{})
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return os.Chtimes(p, oi.LastModified, oi.LastModified)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Deploy publishes files (name → content) as version id beneath prefix,
// as weft deploy lays it out (see package manifest): objects by hash,
// the manifest, then the pointer. Every file's time is mod.
func (s *S3) Deploy(t testing.TB, bucket, prefix, id string, files map[string]string, mod time.Time) *manifest.Manifest {
	t.Helper()
	m := &manifest.Manifest{Format: manifest.Format, ID: id, Created: mod, Files: map[string]manifest.File{}}
	dirs := map[string]bool{}
	for name, body := range files {
		sum := sha256.Sum256([]byte(body))
		hx := hex.EncodeToString(sum[:])
		s.Put(t, bucket, manifest.ObjectKey(prefix, hx), []byte(body))
		m.Files[name] = manifest.File{SHA256: hx, Size: int64(len(body)), Mod: mod}
		for d := filepath.ToSlash(filepath.Dir(name)); d != "."; d = filepath.ToSlash(filepath.Dir(d)) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		m.Dirs = append(m.Dirs, d)
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s.Put(t, bucket, manifest.VersionKey(prefix, id), b)
	s.Put(t, bucket, manifest.CurrentKey(prefix), []byte(id+"\n"))
	return m
}

// VersionID makes a version ID (see manifest.NewID) from a name.
func VersionID(t time.Time, name string) string {
	return manifest.NewID(t, sha256.Sum256([]byte(name)))
}

// overS3 is a Starter serving, in place of the suite's tree at root, the
// bucket that holds a copy of it.
func overS3(start Starter, root, url string, cfg origin.Config) Starter {
	return func(t testing.TB, opts Options) *Server {
		t.Helper()
		if opts.Site.Root == root {
			opts.Site.Root = url
			opts.Site.Origin = cfg
		}
		return start(t, opts)
	}
}

// RunOrigin runs the suite's cases that do not need a directory (see
// suiteCase) against the suite's tree copied into a bucket and served as
// s3://BUCKET/site.
func RunOrigin(t *testing.T, start Starter, caps Capabilities) {
	checkLeaks(t)
	s3 := StartS3(t)
	root := Tree(t)
	s3.MakeBucket(t, "suite")
	s3.PutTree(t, "suite", "site", root)
	start = overS3(start, root, "s3://suite/site", s3.Origin())
	base := start(t, Options{Site: site.Config{Root: root}})
	s := &suite{start: start, root: root, addr: base.Addr, caps: caps, origin: true}
	var mu sync.Mutex
	copies := 0
	s.copyTree = func(t *testing.T, dir string) (string, origin.Config) {
		mu.Lock()
		copies++
		prefix := fmt.Sprintf("tree%d", copies)
		mu.Unlock()
		s3.PutTree(t, "suite", prefix, dir)
		return "s3://suite/" + prefix, s3.Origin()
	}
	for _, c := range s.cases() {
		if !c.dir {
			t.Run(c.name, c.run)
		}
	}
}
