package site

import (
	"runtime"
	"strings"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/http1"
)

// Representations (RFC 9110 §3.2): besides the file as it lies on disk
// (identity), a file may be sent in a content coding, from a
// precompressed sidecar beside it ("app.js.br") or from a variant
// compressed once on the fly and cached. The identity entry owns them
// (entry.reps); which one a request gets is chosen by its Accept-Encoding
// (codec.Accept) among those ready, so a cached compressed GET is the same
// work as a cached plain one. A variant not ready yet is built off the
// event loops, and the client that asked gets the best one ready
// meanwhile, identity at worst.

// CompressConfig says which representations are offered. The zero value
// offers sidecars and compresses the default types between 1 KiB and
// 4 MiB.
type CompressConfig struct {
	Off             bool         // never compress on the fly
	Types           *codec.Types // compressible content types; codec.DefaultTypes when nil
	MinBytes        int64        // smallest file compressed on the fly; 1 KiB when zero
	MaxBytes        int64        // largest; 4 MiB when zero
	NoPrecompressed bool         // do not serve precompressed sidecars
}

// The state of an identity entry: bit c of the low byte is set when coding
// c is possible (a sidecar was found, or the file may be compressed on the
// fly); bit c of the next byte once a build of c has started (it is never
// started twice for one version of the file).
const buildShift = 8

// reps is a Site's representation policy and its builders.
type reps struct {
	cfg   CompressConfig
	slots chan struct{} // one per build under way; all taken once closed
}

func newReps(cfg CompressConfig) *reps {
	if cfg.Types == nil {
		t := codec.MustParseTypes(codec.DefaultTypes)
		cfg.Types = &t
	}
	if cfg.MinBytes <= 0 {
		cfg.MinBytes = 1 << 10
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 4 << 20
	}
	// Compressing competes with serving for the CPUs: at most one build
	// per two of them.
	return &reps{cfg: cfg, slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
}

// prepare completes the identity entry e of the file name: it finds the
// sidecars that may be served for it, notes which codings may be made on
// the fly (cached: only when the cache can keep them), and renders the
// header lines of e and of its sidecars.
func (s *Site) prepare(e *entry, name string, cached bool) {
	ctype := s.contentType(name)
	hs := s.fileHeaders(name)
	var possible uint32
	if !s.reps.cfg.NoPrecompressed {
		for _, c := range codec.Encoded {
			r := s.openSidecar(e, name, c, cached)
			if r == nil {
				continue
			}
			r.render(headSpec{ctype: ctype, coding: c, vary: true, hs: hs}, s.etagOf(r, c))
			e.reps[c].Store(r)
			possible |= 1 << c
		}
	}
	if cached && !s.reps.cfg.Off && e.size >= s.reps.cfg.MinBytes && e.size <= s.reps.cfg.MaxBytes && s.reps.cfg.Types.Match(ctype) && !precompressedName(name) {
		for _, c := range codec.Encoded {
			possible |= 1 << c
		}
	}
	e.state.Store(possible)
	e.render(headSpec{ctype: ctype, vary: possible != 0, hs: hs}, s.etagOf(e, codec.Identity))
}

// precompressedName reports whether the file name says its bytes are
// compressed already, whatever its type (an .svgz is gzip-compressed SVG).
func precompressedName(name string) bool {
	return strings.HasSuffix(strings.ToLower(name), ".svgz")
}

// openSidecar returns the representation of name in coding c from its
// sidecar, or nil: there is none, it is not a regular file, or it is older
// than the file (stale: written before the file last changed).
func (s *Site) openSidecar(e *entry, name string, c codec.Coding, cached bool) *entry {
	sc := name + c.Ext()
	f, fi, err := s.open(sc)
	if err != nil {
		return nil
	}
	if !fi.Mode().IsRegular() || fi.ModTime().Before(e.mod) {
		f.Close()
		return nil
	}
	r, err := newEntry(sc, f, fi, cached && fi.Size() <= s.cache.maxFile, e.checkedAt())
	if err != nil {
		return nil
	}
	return r
}

// sidecarsSame reports whether the sidecars beside e's file are those e
// was prepared with: none appeared, changed, went stale or went away.
func (s *Site) sidecarsSame(e *entry) bool {
	if s.reps.cfg.NoPrecompressed {
		return true
	}
	for _, c := range codec.Encoded {
		r := e.reps[c].Load()
		had := r != nil && r.name != e.name // a sidecar, not a variant made here
		// Looked at as openSidecar does (opened beneath the root, under
		// the symlink policy): one that cannot be opened is absent either way.
		f, fi, err := s.open(e.name + c.Ext())
		if err == nil {
			f.Close()
		}
		has := err == nil && fi.Mode().IsRegular() && !fi.ModTime().Before(e.mod)
		if had != has || (has && !r.sameFile(fi)) {
			return false
		}
	}
	return true
}

// pick returns the representation of the identity entry e to send to a
// client that accepts a: the best one ready. When the client would rather
// have one that is not ready, standin is true, and if no build of it has
// started, build is its coding, marked as started, for the caller to
// build.
func (e *entry) pick(a *codec.Accept) (r *entry, build codec.Coding, standin bool) {
	st := e.state.Load()
	possible := uint8(st)
	if possible == 0 {
		return e, codec.Identity, false
	}
	want := a.Choose(possible)
	if want == codec.Identity {
		return e, codec.Identity, false
	}
	if r := e.reps[want].Load(); r != nil {
		return r, codec.Identity, false
	}
	build = codec.Identity
	if bit := uint32(1) << (buildShift + want); st&bit == 0 && e.state.CompareAndSwap(st, st|bit) {
		build = want
	}
	var ready uint8
	for _, c := range codec.Encoded {
		if e.reps[c].Load() != nil {
			ready |= 1 << c
		}
	}
	if c := a.Choose(ready); c != codec.Identity {
		return e.reps[c].Load(), build, true
	}
	return e, build, true
}

// drop forgets that coding c is possible for e: its build failed or did
// not pay.
func (e *entry) drop(c codec.Coding) {
	for {
		st := e.state.Load()
		if e.state.CompareAndSwap(st, st&^(1<<c)) {
			return
		}
	}
}

// build makes e's variant in coding c, off the caller's goroutine, and
// hands it to the cache; e is acquired for it and released when done. At
// most one build per two CPUs runs at once; when they are all busy, the
// build is given up and the next request for it starts it again.
func (s *Site) build(e *entry, c codec.Coding) {
	select {
	case s.reps.slots <- struct{}{}:
	default:
		for {
			st := e.state.Load()
			if e.state.CompareAndSwap(st, st&^(1<<(buildShift+c))) {
				break
			}
		}
		e.Close()
		return
	}
	go func() {
		defer func() {
			e.Close()
			<-s.reps.slots
		}()
		if r := s.compress(e, c); r != nil {
			s.cache.attach(e, c, r)
		} else {
			e.drop(c)
		}
	}()
}

// close waits for the builds under way, then keeps every slot, so that a
// build asked for later gives up at once. Unlike a WaitGroup, it may run
// while requests still come in (a reload closes a site that the memory
// path of a request may still be in).
func (r *reps) close() {
	for range cap(r.slots) {
		r.slots <- struct{}{}
	}
}

// cachedLevelMax is the largest file whose variants are compressed at
// codec.Cached: once per version, a few milliseconds per 100 KiB; larger
// ones get codec.Fast, so that one build does not hold the builder long.
const cachedLevelMax = 1 << 20

// minGain is how much smaller, in hundredths, a variant must be than the
// file to be worth keeping and sending.
const minGain = 5

// compress returns e's content in coding c as a representation, or nil
// when it cannot be read whole or does not shrink by minGain percent.
func (s *Site) compress(e *entry, c codec.Coding) *entry {
	src := e.body
	if src == nil {
		src = make([]byte, e.size)
		if n, _ := e.file.ReadAt(src, 0); int64(n) != e.size {
			return nil // changed meanwhile: the watcher or the next check replaces e
		}
	}
	lvl := codec.Cached
	if e.size > cachedLevelMax {
		lvl = codec.Fast
	}
	out, err := codec.Compress(c, lvl, src)
	if err != nil || int64(len(out)) > e.size*(100-minGain)/100 {
		return nil
	}
	r := &entry{name: e.name, fi: e.fi, size: int64(len(out)), mod: e.mod, body: out}
	r.checked.Store(e.checked.Load())
	r.render(headSpec{ctype: e.ctype, coding: c, vary: true, hs: s.fileHeaders(e.name)}, s.variantETag(e, r, c))
	return r
}

// variantETag is the entity-tag of r, e's variant in coding c: with
// ETagContent a hash of r's own bytes (the encoder's output may change
// with its version, and a strong tag must not outlive the bytes it
// names), else e's tag marked with the coding.
func (s *Site) variantETag(e, r *entry, c codec.Coding) []byte {
	if s.cfg.ETag == ETagContent {
		if sum, ok := hashOf(r); ok { // in memory: no file version to remember it by
			return variantTag(contentTag(sum), c)
		}
	}
	return variantTag(e.etag, c)
}

// variantTag is the entity-tag of the variant in coding c of the
// representation tagged tag: the same opaque tag with the coding's name
// appended, so a 304 for one never confirms the other.
func variantTag(tag []byte, c codec.Coding) []byte {
	t := make([]byte, 0, len(tag)+len(c.Token())+1)
	t = append(t, tag[:len(tag)-1]...)
	t = append(t, '-')
	t = append(t, c.Token()...)
	return append(t, '"')
}

// descriptors is how many open files e holds, its sidecars' included.
func (e *entry) descriptors() int {
	n := 0
	if e.file != nil {
		n++
	}
	for i := range e.reps {
		if r := e.reps[i].Load(); r != nil && r.file != nil {
			n++
		}
	}
	return n
}

// dropReps releases the owner's reference to each of e's representations
// held as open files, when e leaves the cache or never entered it.
func (e *entry) dropReps() {
	for i := range e.reps {
		if r := e.reps[i].Load(); r != nil {
			r.Close()
		}
	}
}

// checkedAt is when e was last confirmed.
func (e *entry) checkedAt() time.Time { return time.Unix(0, e.checked.Load()) }

// acceptOf is the parsed Accept-Encoding of req.
func acceptOf(req *http1.Request) codec.Accept {
	if !req.AcceptEncodingRepeated {
		return codec.ParseAccept(req.AcceptEncoding, req.AcceptEncoding != nil)
	}
	a := codec.ParseAccept(nil, true)
	for _, h := range req.Headers {
		if http1.EqualFold(h.Name, "accept-encoding") {
			a.Add(h.Value)
		}
	}
	return a
}
