// Package pack makes one executable of weft, a site and serve's flags
// (weft pack), and finds what such an executable holds when it starts.
//
// A packed executable is weft's own executable, unchanged, followed by a
// payload and a trailer of fixed size:
//
//	weft | zip of the site | manifest (JSON) | trailer
//
// The trailer (trailerSize bytes, big-endian) is the zip's offset and
// length, the manifest's length, the SHA-256 of the zip and the manifest
// together, and the magic string last. No Go toolchain is needed to pack:
// the operating system runs the executable as it was and ignores what
// follows it, and weft reads its own last bytes at start (Self). The zip
// keeps every file's modification time (to the second), so Last-Modified
// and ETag stay the same at every start, on every machine.
package pack

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/site"
)

// magic ends every packed executable.
var magic = [magicLen]byte{'\x00', 'w', 'e', 'f', 't', ' ', 'p', 'a', 'c', 'k', ' ', 'v', '1', '\x00', '\r', '\n'}

// trailerSize is the size of the trailer: three offsets and lengths, the
// checksum and the magic string.
const trailerSize = 3*8 + sha256.Size + magicLen

const magicLen = 16

// ErrDamaged marks a packed executable whose payload is not whole.
var ErrDamaged = errors.New("weft: the site packed into this executable is damaged")

// Manifest describes a payload.
type Manifest struct {
	Args  []string `json:"args"`  // serve's flags, packed (see config.ParseFlags)
	Files int      `json:"files"` // the site's files
	Bytes int64    `json:"bytes"` // their total size
}

// Payload is what a packed executable holds.
type Payload struct {
	Manifest
	Site    fs.FS // the site, as the zip holds it
	ExeSize int64 // the size of weft's executable, before the payload
	Size    int64 // the size of the packed executable
}

// Flags returns the packed flags, parsed.
func (p *Payload) Flags() (*config.Flags, error) {
	f, err := config.ParseFlags(p.Args)
	if err != nil {
		return nil, fmt.Errorf("%w: its flags: %w", ErrDamaged, err)
	}
	return f, nil
}

// Self is what the running executable holds: nil for none (weft as
// built), or an error wrapping ErrDamaged for a payload that is not
// whole. It reads the executable once.
var Self = sync.OnceValues(func() (*Payload, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("weft: finding its own executable: %w", err)
	}
	return Read(exe)
})

// Read returns what the executable exe holds: nil for none, or an error
// wrapping ErrDamaged when its trailer or payload is not whole. The
// payload's Site reads exe while it is used.
func Read(exe string) (*Payload, error) {
	f, err := os.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("weft: reading its own executable: %w", err)
	}
	p, err := read(f)
	if p == nil || err != nil {
		f.Close()
	}
	return p, err
}

func read(f *os.File) (*Payload, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	var t [trailerSize]byte
	if size >= trailerSize {
		if _, err := f.ReadAt(t[:], size-trailerSize); err != nil {
			return nil, fmt.Errorf("weft: reading %s: %w", f.Name(), err)
		}
	}
	if size < trailerSize || !bytes.Equal(t[trailerSize-magicLen:], magic[:]) {
		return nil, appended(f, size)
	}
	zipOff := int64(binary.BigEndian.Uint64(t[0:]))
	zipLen := int64(binary.BigEndian.Uint64(t[8:]))
	manLen := int64(binary.BigEndian.Uint64(t[16:]))
	payload := size - trailerSize
	if zipOff < 0 || zipLen < 0 || manLen < 0 || zipOff > payload || zipLen > payload-zipOff || manLen != payload-zipOff-zipLen {
		return nil, fmt.Errorf("%w: %s is %d bytes, not what its trailer says (truncated or cut?); pack it again", ErrDamaged, f.Name(), size)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, zipOff, zipLen+manLen)); err != nil {
		return nil, fmt.Errorf("weft: reading %s: %w", f.Name(), err)
	}
	if !bytes.Equal(h.Sum(nil), t[24:24+sha256.Size]) {
		return nil, fmt.Errorf("%w: its checksum does not match (changed since it was packed?); pack it again", ErrDamaged)
	}
	p := &Payload{ExeSize: zipOff, Size: size}
	man := make([]byte, manLen)
	if _, err := f.ReadAt(man, zipOff+zipLen); err != nil {
		return nil, fmt.Errorf("weft: reading %s: %w", f.Name(), err)
	}
	if err := json.Unmarshal(man, &p.Manifest); err != nil {
		return nil, fmt.Errorf("%w: its manifest: %w", ErrDamaged, err)
	}
	zr, err := zip.NewReader(io.NewSectionReader(f, zipOff, zipLen), zipLen)
	if err != nil {
		return nil, fmt.Errorf("%w: its zip: %w", ErrDamaged, err)
	}
	p.Site = zr
	return p, nil
}

// appended reports bytes after the end of an ELF executable without a
// trailer: a packed executable cut short, which must not serve the
// sample site as if nothing were wrong. Other formats are not checked.
func appended(f *os.File, size int64) error {
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil // not ELF
	}
	// The section header table, often last, is not in elf.File.
	var hdr [64]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil
	}
	bo := ef.ByteOrder
	var end int64
	switch ef.Class {
	case elf.ELFCLASS64:
		end = int64(bo.Uint64(hdr[0x28:])) + int64(bo.Uint16(hdr[0x3a:]))*int64(bo.Uint16(hdr[0x3c:]))
	case elf.ELFCLASS32:
		end = int64(bo.Uint32(hdr[0x20:])) + int64(bo.Uint16(hdr[0x2e:]))*int64(bo.Uint16(hdr[0x30:]))
	}
	for _, s := range ef.Sections {
		if s.Type != elf.SHT_NOBITS {
			end = max(end, int64(s.Offset+s.FileSize))
		}
	}
	for _, p := range ef.Progs {
		end = max(end, int64(p.Off+p.Filesz))
	}
	if size > end {
		return fmt.Errorf("%w: %s has %d bytes after the executable but no trailer (truncated?); pack it again", ErrDamaged, f.Name(), size-end)
	}
	return nil
}

// Options say what to pack.
type Options struct {
	Exe     string   // weft's executable, copied without any payload it holds
	Dir     string   // the site
	Out     string   // the executable to write
	Args    []string // serve's flags to pack
	Engines []string // the engines a packed flag may name (nil: not checked)
}

// Result says what was packed.
type Result struct {
	Files int   // files
	Bytes int64 // their total size
	Dirs  int   // folders, the root's excepted
	Size  int64 // the size of the executable written
}

// Pack writes the executable o.Out: weft's executable with o.Dir's site
// and o.Args packed, mode 0755. The site holds what weft serve, with
// those flags, lets a request reach in o.Dir (see site.Reachable):
// dotfiles only with --dotfiles, links as --symlinks allows, sidecars
// included. Out is written beside itself under a temporary name and
// renamed when whole. Its errors are one line.
func Pack(o Options) (Result, error) {
	var res Result
	flags, err := config.ParseFlags(o.Args)
	if err != nil {
		return res, fmt.Errorf("weft pack: %w", err)
	}
	cfg, err := config.Load(config.Options{Packed: flags, Engines: o.Engines, Snapshot: &config.Snapshot{}})
	if err != nil {
		return res, fmt.Errorf("weft pack: %w", firstLine(err))
	}
	if err := checkPaths(o); err != nil {
		return res, err
	}
	src, err := os.Open(o.Exe)
	if err != nil {
		return res, fmt.Errorf("weft pack: reading weft's executable: %w", err)
	}
	defer src.Close()
	exeSize, err := bodySize(src)
	if err != nil {
		return res, err
	}
	sc := cfg.Site()
	sc.Root = o.Dir
	sc.Cache.NoWatch = true
	st, err := site.Open(sc)
	if err != nil {
		return res, fmt.Errorf("weft pack: %w", err)
	}
	defer st.Close()

	out, err := os.CreateTemp(filepath.Dir(o.Out), ".weft-pack-*")
	if err != nil {
		return res, fmt.Errorf("weft pack: cannot write %s: %w", o.Out, unwrapPath(err))
	}
	done := false
	defer func() {
		if !done {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	if _, err := io.Copy(out, io.NewSectionReader(src, 0, exeSize)); err != nil {
		return res, fmt.Errorf("weft pack: writing %s: %w", o.Out, unwrapPath(err))
	}
	// The output and the file it replaces may lie within the site.
	skip := []fs.FileInfo{}
	if fi, err := out.Stat(); err == nil {
		skip = append(skip, fi)
	}
	if fi, err := os.Stat(o.Out); err == nil {
		skip = append(skip, fi)
	}
	h := sha256.New()
	pw := io.MultiWriter(out, h)
	zw := zip.NewWriter(pw)
	err = st.Reachable(func(name string, fi fs.FileInfo, f site.File) error {
		for _, s := range skip {
			if os.SameFile(s, fi) {
				return nil
			}
		}
		if f == nil {
			res.Dirs++
			hd := &zip.FileHeader{Name: name + "/", Modified: fi.ModTime()}
			hd.SetMode(fs.ModeDir | 0o755)
			_, err := zw.CreateHeader(hd)
			return err
		}
		hd := &zip.FileHeader{Name: name, Modified: fi.ModTime(), Method: zip.Deflate}
		hd.SetMode(0o644)
		w, err := zw.CreateHeader(hd)
		if err != nil {
			return err
		}
		n, err := io.Copy(w, io.NewSectionReader(f, 0, fi.Size()+1))
		if err != nil {
			return err
		}
		if n != fi.Size() {
			return fmt.Errorf("%s changed while it was packed", name)
		}
		res.Files++
		res.Bytes += n
		return nil
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return res, fmt.Errorf("weft pack: %w", unwrapPath(err))
	}
	end, err := out.Seek(0, io.SeekCurrent)
	if err != nil {
		return res, fmt.Errorf("weft pack: %w", err)
	}
	zipLen := end - exeSize
	man, err := json.Marshal(Manifest{Args: o.Args, Files: res.Files, Bytes: res.Bytes})
	if err != nil {
		return res, fmt.Errorf("weft pack: %w", err)
	}
	if _, err := pw.Write(man); err != nil {
		return res, fmt.Errorf("weft pack: writing %s: %w", o.Out, unwrapPath(err))
	}
	var t [trailerSize]byte
	binary.BigEndian.PutUint64(t[0:], uint64(exeSize))
	binary.BigEndian.PutUint64(t[8:], uint64(zipLen))
	binary.BigEndian.PutUint64(t[16:], uint64(len(man)))
	copy(t[24:], h.Sum(nil))
	copy(t[24+sha256.Size:], magic[:])
	if _, err := out.Write(t[:]); err != nil {
		return res, fmt.Errorf("weft pack: writing %s: %w", o.Out, unwrapPath(err))
	}
	res.Size = end + int64(len(man)) + trailerSize
	if err := out.Chmod(0o755); err != nil {
		return res, fmt.Errorf("weft pack: %w", unwrapPath(err))
	}
	if err := out.Sync(); err != nil {
		return res, fmt.Errorf("weft pack: writing %s: %w", o.Out, unwrapPath(err))
	}
	if err := out.Close(); err != nil {
		return res, fmt.Errorf("weft pack: writing %s: %w", o.Out, unwrapPath(err))
	}
	if err := os.Rename(out.Name(), o.Out); err != nil {
		return res, fmt.Errorf("weft pack: cannot write %s: %w", o.Out, unwrapPath(err))
	}
	done = true
	return res, nil
}

// checkPaths refuses a DIR that is no folder and an output that is a
// folder or weft's own executable.
func checkPaths(o Options) error {
	fi, err := os.Stat(o.Dir)
	switch {
	case err != nil:
		return fmt.Errorf("weft pack: cannot pack %s: %w", o.Dir, unwrapPath(err))
	case !fi.IsDir():
		return fmt.Errorf("weft pack: %s is not a folder", o.Dir)
	}
	if o.Out == "" {
		return errors.New("weft pack: no output: give -o FILE")
	}
	out, err := os.Stat(o.Out)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("weft pack: cannot write %s: %w", o.Out, unwrapPath(err))
	}
	if out.IsDir() {
		return fmt.Errorf("weft pack: -o %s is a folder: name the file to write", o.Out)
	}
	if exe, err := os.Stat(o.Exe); err == nil && os.SameFile(exe, out) {
		return fmt.Errorf("weft pack: -o %s is weft's own executable: name another file", o.Out)
	}
	return nil
}

// bodySize is the size of weft's executable in the file src: all of it,
// or for a packed one what precedes its payload.
func bodySize(src *os.File) (int64, error) {
	p, err := read(src)
	if err != nil {
		return 0, err
	}
	if p != nil {
		return p.ExeSize, nil
	}
	fi, err := src.Stat()
	if err != nil {
		return 0, fmt.Errorf("weft pack: %w", err)
	}
	return fi.Size(), nil
}

// firstLine is err's first problem, joined ones aside, for a one-line
// error.
func firstLine(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
		return j.Unwrap()[0]
	}
	return err
}

// unwrapPath is err without the operation and path of an *fs.PathError,
// which the message names already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
