package precompress

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/weft-server/weft/internal/codec"
)

var (
	errNoGain  = errors.New("weft: not 5% smaller")
	errChanged = errors.New("weft: changed while being compressed; run again")
)

// result is a task's outcome, with what the no-gain list needs.
type result struct {
	Item
	stamp stamp // NoGain: the original's when compressed
}

// remember records a NoGain outcome in the next no-gain list.
func (r result) remember(next noGain) {
	if r.Action == NoGain {
		next[key{r.Name, r.Coding}] = r.stamp
	}
}

// worker carries out tasks beneath root.
type worker struct {
	root  *os.Root
	prune bool
}

// runAll carries out tasks, the largest originals first, on jobs
// goroutines, and sends their results; the channel closes after the last.
// When ctx ends, tasks not yet started are dropped.
func (w *worker) runAll(ctx context.Context, tasks []task, jobs int) <-chan result {
	slices.SortStableFunc(tasks, func(a, b task) int { return cmp.Compare(b.size, a.size) })
	todo := make(chan task)
	results := make(chan result)
	go func() {
		defer close(todo)
		for _, t := range tasks {
			select {
			case todo <- t:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range min(jobs, len(tasks)) {
		wg.Go(func() {
			for t := range todo {
				results <- w.do(ctx, t)
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	return results
}

func (w *worker) do(ctx context.Context, t task) result {
	it := Item{Name: t.name, Coding: t.coding, Stale: t.stale}
	side := native(t.name + t.coding.Ext())
	switch t.state {
	case compress:
		return w.compress(ctx, t)
	case drop:
		it.Action = Removed
	case orphan:
		it.Action = Orphan
		if !w.prune {
			return result{Item: it}
		}
		it.Action = Pruned
	}
	if err := w.root.Remove(side); err != nil && !errors.Is(err, fs.ErrNotExist) {
		it.Action, it.Err = Failed, err
	}
	return result{Item: it}
}

// compress writes t's sidecar, streaming, through a temporary file that
// takes the original's permission bits and modification time and is then
// renamed into place; or, when the encoding is not 5% smaller, writes none
// and removes a stale one.
func (w *worker) compress(ctx context.Context, t task) result {
	res := result{Item: Item{Name: t.name, Coding: t.coding, Stale: t.stale}}
	fail := func(err error) result {
		res.Action, res.Err = Failed, err
		return res
	}
	f, err := w.root.Open(native(t.name))
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if !before.Mode().IsRegular() {
		return fail(errNotRegular)
	}
	res.In, res.stamp = before.Size(), stampOf(before)
	side := t.name + t.coding.Ext()
	err = replace(w.root, side, before.Mode().Perm(), before, before.ModTime(), func(tmp *os.File) error {
		n, err := encode(ctx, tmp, f, t.coding, before.Size()*keepPercent/100)
		res.Out = n
		if err != nil && !errors.Is(err, errNoGain) {
			return err
		}
		if after, serr := f.Stat(); serr != nil {
			return serr
		} else if stampOf(after) != res.stamp {
			return errChanged
		}
		return err
	})
	switch {
	case errors.Is(err, errNoGain):
		res.Action, res.Out = NoGain, 0
		if t.stale {
			if err := w.root.Remove(native(side)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fail(err)
			}
		}
		return res
	case err != nil:
		return fail(err)
	}
	res.Action = Wrote
	return res
}

// encode writes src encoded in coding c to dst at the Best level and
// returns the encoding's length; errNoGain as soon as it passes limit.
func encode(ctx context.Context, dst io.Writer, src io.Reader, c codec.Coding, limit int64) (int64, error) {
	bw := bufio.NewWriterSize(dst, 64<<10)
	cw := &limitCounter{w: bw, limit: limit}
	enc, err := codec.NewWriter(cw, c, codec.Best)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(enc, ctxReader{ctx, src}); err != nil {
		enc.Close()
		return cw.n, err
	}
	if err := enc.Close(); err != nil {
		return cw.n, err
	}
	return cw.n, bw.Flush()
}

// limitCounter counts what passes through it and fails once it is more
// than limit: an encoding that large will not be kept.
type limitCounter struct {
	w     io.Writer
	n     int64
	limit int64
}

func (c *limitCounter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if c.n > c.limit {
		return 0, errNoGain
	}
	return c.w.Write(p)
}

// replace writes name anew: fill writes a hidden temporary file beside it
// (the server serves no dotfile), which gets permission bits perm, the
// owner of owner when that is not nil (see sameOwner) and, when mtime is
// not zero, that modification time, and is then renamed over name. On any
// failure the temporary file is removed and name is left as it was.
func replace(root *os.Root, name string, perm fs.FileMode, owner fs.FileInfo, mtime time.Time, fill func(*os.File) error) error {
	dir, base := path.Split(name)
	tmpName := native(dir + "." + base + ".weft-" + strconv.FormatUint(rand.Uint64(), 36))
	tmp, err := root.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = fill(tmp)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil && owner != nil {
		err = sameOwner(tmp, owner)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && !mtime.IsZero() {
		err = root.Chtimes(tmpName, time.Time{}, mtime)
	}
	if err == nil {
		err = root.Rename(tmpName, native(name))
	}
	if err != nil {
		root.Remove(tmpName)
	}
	return err
}

// native turns a slash-separated path beneath the root into the system's.
func native(name string) string { return filepath.FromSlash(name) }
