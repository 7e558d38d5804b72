// Package deploy publishes a folder to an object store as an immutable
// version of a site, in the layout of internal/manifest, and manages the
// versions there: weft deploy, --list, --rollback and --keep.
//
// A deploy uploads each file's bytes once, as an object named by their
// SHA-256 (what an earlier version holds already is reused), then writes
// the version's manifest, checks that every object it names is there, and
// only then switches the pointer to it: one small PUT, so a reader of the
// pointer finds either the old version or the new one, whole.
package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/weft-server/weft/internal/manifest"
	"github.com/weft-server/weft/internal/s3conn"
)

// Store is a deploy's place: a prefix of a bucket.
type Store struct {
	Client *minio.Client
	Loc    s3conn.Location
}

// errf is a one-line error about the store: Explain's words for err.
func (s Store) errf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, s3conn.Explain(err, s.Loc))...)
}

// check makes sure the bucket exists and the credentials are accepted,
// with a listing of one key: unlike HEAD of the bucket, its error has a
// body that says which (a store may answer HEAD with 404 for an unknown
// access key).
func (s Store) check(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := minio.ListObjectsOptions{Prefix: manifest.CurrentKey(s.Loc.Prefix), MaxKeys: 1}
	for o := range s.Client.ListObjects(ctx, s.Loc.Bucket, opts) {
		if o.Err != nil {
			return s3conn.Explain(o.Err, s.Loc)
		}
	}
	return nil
}

// maxCurrent bounds the pointer object a reader accepts.
const maxCurrent = 1 << 10

// ErrBadPointer marks a pointer object that names no version (written
// by hand, or by something other than weft): a deploy or a rollback
// replaces it, --keep refuses to run, since it cannot tell what is served.
var ErrBadPointer = errors.New("the pointer is damaged; a deploy or --rollback replaces it")

// current is the ID of the version the pointer names, "" for none yet.
func (s Store) current(ctx context.Context) (string, error) {
	key := manifest.CurrentKey(s.Loc.Prefix)
	obj, err := s.Client.GetObject(ctx, s.Loc.Bucket, key, minio.GetObjectOptions{})
	if err == nil {
		defer obj.Close()
		var b []byte
		if b, err = io.ReadAll(io.LimitReader(obj, maxCurrent)); err == nil {
			id, err := manifest.ParseCurrent(b)
			if err != nil {
				return "", fmt.Errorf("%s: %s: %w (%w)", s.Loc, key, err, ErrBadPointer)
			}
			return id, nil
		}
	}
	if s3conn.IsNotFound(err) {
		return "", nil
	}
	return "", s.errf(err, "reading the current version")
}

// setCurrent switches the pointer to id. Once begun, a switch is not
// cut short by ctx's end (an interrupted command): the PUT may reach the
// store whatever the client does, and the command would then report a
// failure with the pointer moved. It is one small request, bounded by the
// client's timeouts. A failure with no answer from the store may still
// have switched, and says so.
func (s Store) setCurrent(ctx context.Context, id string) error {
	err := s.put(context.WithoutCancel(ctx), manifest.CurrentKey(s.Loc.Prefix), []byte(id+"\n"), "text/plain; charset=utf-8")
	switch {
	case err == nil:
		return nil
	case minio.ToErrorResponse(err).Code == "":
		return fmt.Errorf("%w; the store may have switched all the same: weft deploy --list shows where the pointer is", s.errf(err, "switching to %s", id))
	}
	return s.errf(err, "switching to %s", id)
}

// unwrite deletes the manifest of version id, which a deploy wrote and
// then failed (err) before switching to it: a version that was never
// served, perhaps with a hole, must not be listed as the newest nor kept
// by --keep in place of one that was. It leaves the manifest when the
// pointer names it (a deploy of the same files in the same second,
// which has the same ID, switched to it), and when it cannot tell.
// Interrupted, it still runs: one small request or two.
func (s Store) unwrite(ctx context.Context, id string, err error) error {
	ctx = context.WithoutCancel(ctx)
	cur, cerr := s.current(ctx)
	if cerr == nil && cur == id {
		return err
	}
	if (cerr != nil && !errors.Is(cerr, ErrBadPointer)) || s.remove(ctx, []string{manifest.VersionKey(s.Loc.Prefix, id)}) != nil {
		return fmt.Errorf("%w (its manifest, version %s, is left in the store)", err, id)
	}
	return err
}

// put writes a small object from memory (minio-go retries it).
func (s Store) put(ctx context.Context, key string, b []byte, ctype string) error {
	_, err := s.Client.PutObject(ctx, s.Loc.Bucket, key, bytes.NewReader(b), int64(len(b)),
		minio.PutObjectOptions{ContentType: ctype, DisableMultipart: true})
	return err
}

// remove deletes the objects keys, many a request (DeleteObjects).
func (s Store) remove(ctx context.Context, keys []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the feeder, when the client stops early
	ch := make(chan minio.ObjectInfo)
	go func() {
		defer close(ch)
		for _, k := range keys {
			select {
			case ch <- minio.ObjectInfo{Key: k}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var first error
	for r := range s.Client.RemoveObjectsWithResult(ctx, s.Loc.Bucket, ch, minio.RemoveObjectsOptions{}) {
		if r.Err != nil && first == nil {
			first = s.errf(r.Err, "deleting %s", r.ObjectName)
		}
	}
	return first
}

// objects lists the objects of the deploy by their hash, in one listing.
// Keys under the objects prefix that are no hash are not weft's: left out.
func (s Store) objects(ctx context.Context) (map[string]minio.ObjectInfo, error) {
	pre := manifest.ObjectsPrefix(s.Loc.Prefix)
	objs := map[string]minio.ObjectInfo{}
	for o := range s.Client.ListObjects(ctx, s.Loc.Bucket, minio.ListObjectsOptions{Prefix: pre, Recursive: true}) {
		if o.Err != nil {
			return nil, s.errf(o.Err, "listing objects")
		}
		if sum := strings.TrimPrefix(o.Key, pre); manifest.ValidSum(sum) {
			objs[sum] = o
		}
	}
	return objs, nil
}

// versions lists the IDs of the versions whose manifests the store holds,
// newest first.
func (s Store) versions(ctx context.Context) ([]string, error) {
	pre := manifest.VersionsPrefix(s.Loc.Prefix)
	var ids []string
	for o := range s.Client.ListObjects(ctx, s.Loc.Bucket, minio.ListObjectsOptions{Prefix: pre}) {
		if o.Err != nil {
			return nil, s.errf(o.Err, "listing versions")
		}
		if id, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, pre), ".json"); ok && manifest.ValidID(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids, nil
}

// manifest reads and checks version id's manifest.
func (s Store) manifest(ctx context.Context, id string) (*manifest.Manifest, error) {
	key := manifest.VersionKey(s.Loc.Prefix, id)
	obj, err := s.Client.GetObject(ctx, s.Loc.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.errf(err, "reading version %s", id)
	}
	defer obj.Close()
	m, err := manifest.Decode(obj)
	switch {
	case s3conn.IsNotFound(err):
		return nil, fmt.Errorf("%s: version %s: %w", s.Loc, id, ErrUnknownVersion)
	case minio.ToErrorResponse(err).Code != "":
		return nil, s.errf(err, "reading version %s", id)
	case err != nil:
		return nil, fmt.Errorf("%s: version %s: %w", s.Loc, id, err)
	case m.ID != id:
		return nil, fmt.Errorf("%s: version %s: its manifest names itself %s", s.Loc, id, m.ID)
	}
	return m, nil
}

// missing checks that the store holds every object m names, at its size,
// in objs (one listing): it returns the first file whose object is not.
func missing(m *manifest.Manifest, objs map[string]minio.ObjectInfo) (name string, ok bool) {
	for _, n := range slices.Sorted(maps.Keys(m.Files)) {
		f := m.Files[n]
		if o, has := objs[f.SHA256]; !has || o.Size != f.Size {
			return n, true
		}
	}
	return "", false
}

// since is d rounded for a person: 1.234s, 12ms.
func since(t time.Time) time.Duration {
	d := time.Since(t)
	if d > time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}
