package deploy

import (
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
)

// Version is one version in the store, as List reports it.
type Version struct {
	ID      string
	Created time.Time
	Files   int
	Bytes   int64
	Current bool
	Err     error // its manifest could not be read or is not valid; the rest is zero
}

// Listing is what List finds.
type Listing struct {
	Versions   []Version // newest first
	Current    string    // the ID the pointer names, "" for none or a damaged pointer
	PointerErr error     // the pointer's damage (wrapping ErrBadPointer), or nil
}

// List returns the store's versions. The pointer may name a version whose
// manifest is gone: then no Version is Current.
func List(ctx context.Context, s Store) (Listing, error) {
	var l Listing
	if err := s.check(ctx); err != nil {
		return l, err
	}
	cur, err := s.current(ctx)
	switch {
	case errors.Is(err, ErrBadPointer):
		l.PointerErr = err
	case err != nil:
		return l, err
	}
	l.Current = cur
	ids, err := s.versions(ctx)
	if err != nil {
		return l, err
	}
	for _, id := range ids {
		v := Version{ID: id, Current: id == cur}
		m, err := s.manifest(ctx, id)
		if err != nil {
			v.Err = err
		} else {
			v.Created, v.Files = m.Created, len(m.Files)
			for _, f := range m.Files {
				v.Bytes += f.Size
			}
		}
		l.Versions = append(l.Versions, v)
	}
	return l, nil
}

// ErrUnknownVersion marks a version the store does not hold.
var ErrUnknownVersion = errors.New("no such version")

// Rollback switches the pointer to version id, once its manifest is read
// and every object it names is found; it returns the version current
// before. Switching to the current version changes nothing.
func Rollback(ctx context.Context, s Store, id string, log io.Writer) (string, error) {
	logf := logger(log)
	if !manifest.ValidID(id) {
		return "", fmt.Errorf("%q is not a version ID (weft deploy --list shows them)", id)
	}
	if err := s.check(ctx); err != nil {
		return "", err
	}
	m, err := s.manifest(ctx, id)
	if errors.Is(err, ErrUnknownVersion) {
		return "", fmt.Errorf("%w %s in %s (weft deploy --list shows those there are)", ErrUnknownVersion, id, s.Loc)
	}
	if err != nil {
		return "", err
	}
	objs, err := s.objects(ctx)
	if err != nil {
		return "", err
	}
	if name, gone := missing(m, objs); gone {
		return "", fmt.Errorf("%s: version %s cannot be served: the object of %s is missing", s.Loc, id, name)
	}
	logf("version %s: %d files, every object in place", id, len(m.Files))
	previous, perr := s.current(ctx)
	if perr != nil && !errors.Is(perr, ErrBadPointer) {
		return "", perr
	}
	if previous == id {
		logf("%s is on %s already", s.Loc, id)
		return previous, nil
	}
	if err := s.setCurrent(ctx, id); err != nil {
		return "", err
	}
	logf("switched %s to %s (was %s)", s.Loc, id, was(previous, perr))
	return previous, nil
}

// DefaultGrace is how old an object must be before Collect deletes it.
const DefaultGrace = time.Hour

// CollectOptions say what Collect keeps.
type CollectOptions struct {
	Keep int // the newest versions kept (at least 1); the current one is kept too
	// Previous is the version current before the switch this run made, kept
	// too: servers poll the pointer, so some serve it until their next poll.
	Previous string
	Grace    time.Duration // objects younger than this are never deleted (see Collect)
	DryRun   bool          // say what would be deleted, delete nothing
	Log      io.Writer     // a line per phase; nil for none

	beforeDelete func() // a test's look between reading the manifests and deleting objects
}

// Collected says what Collect deleted (or would delete).
type Collected struct {
	Versions     []string // the versions whose manifests were deleted
	Objects      int      // the objects deleted
	Bytes        int64    // their total size
	YoungObjects int      // unreferenced objects kept for being younger than the grace period
}

// Collect deletes the manifests of the versions beyond the o.Keep newest
// (never the current one), then the objects no remaining manifest names.
//
// A deploy running at the same time uploads its objects before it writes
// the manifest naming them: to leave those alone, only objects older than
// o.Grace are deleted (their time is the store's, when the upload ended).
// A deploy checks its objects once more after writing its manifest, so
// one that reused an object being deleted fails rather than switching to
// a version with a hole. Manifests are listed again after the deletions,
// so one written meanwhile counts; one that cannot be read stops the
// collection before any object is deleted.
func Collect(ctx context.Context, s Store, o CollectOptions) (Collected, error) {
	var res Collected
	logf := logger(o.Log)
	if o.Keep < 1 {
		return res, fmt.Errorf("--keep %d: keep at least 1 version", o.Keep)
	}
	if err := s.check(ctx); err != nil {
		return res, err
	}
	ids, err := s.versions(ctx)
	if err != nil {
		return res, err
	}
	cur, err := s.current(ctx)
	if err != nil {
		return res, err
	}
	var doomed []string
	for i, id := range ids {
		if i >= o.Keep && id != cur && id != o.Previous {
			doomed = append(doomed, id)
		}
	}
	verb := "deleted"
	if o.DryRun {
		verb = "would delete"
	}
	if !o.DryRun && len(doomed) > 0 {
		// A rollback may have switched since: never delete what is served.
		if cur, err = s.current(ctx); err != nil {
			return res, err
		}
		doomed = slices.DeleteFunc(doomed, func(id string) bool { return id == cur })
		keys := make([]string, len(doomed))
		for i, id := range doomed {
			keys[i] = manifest.VersionKey(s.Loc.Prefix, id)
		}
		if err := s.remove(ctx, keys); err != nil {
			return res, err
		}
		res.Versions = doomed
	} else {
		res.Versions = doomed
	}
	kept := " and the current one"
	if o.Previous != "" {
		kept = ", the current one and the one it replaced"
	}
	logf("%s, keeping the %d newest%s: %s %s%s",
		count(len(ids), "version"), o.Keep, kept, verb, count(len(res.Versions), "manifest"), listed(res.Versions))

	// What the remaining manifests name, read after the deletions.
	refs, read := map[string]bool{}, map[string]bool{}
	if o.DryRun {
		for _, id := range doomed {
			read[id] = true // as if deleted
		}
	}
	if _, err := s.named(ctx, refs, read); err != nil {
		return res, err
	}
	objs, err := s.objects(ctx)
	if err != nil {
		return res, err
	}
	if !o.DryRun {
		if o.beforeDelete != nil {
			o.beforeDelete()
		}
		// A deploy that reuses an object counted as garbage above, or a
		// rollback to a version whose manifest was just deleted, may have
		// run since the manifests were read: look once more, right before
		// deleting. A new manifest's objects are spared; a pointer naming
		// a version with no manifest stops the collection (servers may be
		// on it). What lands between this look and the deletion is not
		// caught (see the README).
		ids, err := s.named(ctx, refs, read)
		if err != nil {
			return res, err
		}
		if cur, err = s.current(ctx); err != nil {
			return res, err
		}
		if cur != "" && !slices.Contains(ids, cur) {
			return res, fmt.Errorf("%s: the pointer names version %s, whose manifest is gone (switched to while --keep ran?); no object deleted: run --rollback to a version --list shows, then --keep again", s.Loc, cur)
		}
	}
	before := time.Now().Add(-o.Grace)
	var gone []minio.ObjectInfo
	named := 0
	for _, sum := range slices.Sorted(maps.Keys(objs)) {
		ob := objs[sum]
		switch {
		case refs[sum]:
			named++
		case ob.LastModified.After(before):
			res.YoungObjects++
		default:
			gone = append(gone, ob)
			res.Bytes += ob.Size
		}
	}
	keys := make([]string, len(gone))
	for i, ob := range gone {
		keys[i] = ob.Key
		if o.DryRun {
			logf("would delete object %s (%d bytes)", strings.TrimPrefix(ob.Key, manifest.ObjectsPrefix(s.Loc.Prefix)), ob.Size)
		}
	}
	if !o.DryRun {
		if err := s.remove(ctx, keys); err != nil {
			return res, err
		}
	}
	res.Objects = len(gone)
	logf("%s, %d named by the versions kept: %s %d (%d bytes); %d named by none but younger than %v kept",
		count(len(objs), "object"), named, verb, res.Objects, res.Bytes, res.YoungObjects, o.Grace)
	return res, nil
}

// named lists the store's versions and adds to refs the objects their
// manifests name, reading those not in read yet (and marking them read):
// it returns the IDs listed. A manifest that cannot be read is an error,
// since it may name any object.
func (s Store) named(ctx context.Context, refs, read map[string]bool) ([]string, error) {
	ids, err := s.versions(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if read[id] {
			continue
		}
		read[id] = true
		m, err := s.manifest(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("%w; no object deleted, since it may name some", err)
		}
		for _, f := range m.Files {
			refs[f.SHA256] = true
		}
	}
	return ids, nil
}

// listed is ids after a colon, or nothing for none.
func listed(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ": " + strings.Join(ids, ", ")
}

// count is n things, in the singular for one.
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
