package precompress

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weft-server/weft/internal/codec"
)

// key names one sidecar: its original and its coding.
type key struct {
	name   string
	coding codec.Coding
}

// stamp is an original's size and modification time (Unix nanoseconds).
type stamp struct{ size, mtime int64 }

func stampOf(fi fs.FileInfo) stamp { return stamp{fi.Size(), fi.ModTime().UnixNano()} }

// noGain holds the originals that did not shrink by 5%, as NoGainFile
// stores them: one line each, "TOKEN SIZE MTIME-NS QUOTED-PATH".
type noGain map[key]stamp

const noGainHeader = "# weft precompress: originals not 5% smaller compressed (coding, size, mtime ns, path); delete this file to try them again\n"

func (g noGain) matches(k key, fi fs.FileInfo) bool {
	s, ok := g[k]
	return ok && s == stampOf(fi)
}

// readNoGain reads NoGainFile. A line it cannot parse is dropped: the list
// is a cache, and a lost line costs one compression.
func readNoGain(root *os.Root) (noGain, error) {
	g := noGain{}
	b, err := root.ReadFile(NoGainFile)
	if errors.Is(err, fs.ErrNotExist) {
		return g, nil
	}
	if err != nil {
		return g, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		tok, rest, _ := strings.Cut(line, " ")
		size, rest, _ := strings.Cut(rest, " ")
		mtime, quoted, _ := strings.Cut(rest, " ")
		codings, err1 := ParseCodings(tok)
		s, err2 := strconv.ParseInt(size, 10, 64)
		m, err3 := strconv.ParseInt(mtime, 10, 64)
		name, err4 := strconv.Unquote(quoted)
		if strings.HasPrefix(line, "#") || errors.Join(err1, err2, err3, err4) != nil || len(codings) != 1 {
			continue
		}
		g[key{name, codings[0]}] = stamp{s, m}
	}
	return g, nil
}

// writeNoGain replaces NoGainFile with next, atomically, unless it says
// what old does; an empty list removes the file.
func writeNoGain(root *os.Root, old, next noGain) error {
	if maps.Equal(old, next) {
		return nil
	}
	if len(next) == 0 {
		if err := root.Remove(NoGainFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(next), func(a, b key) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return int(a.coding) - int(b.coding)
	})
	var b bytes.Buffer
	b.WriteString(noGainHeader)
	for _, k := range keys {
		s := next[k]
		b.WriteString(k.coding.Token() + " " + strconv.FormatInt(s.size, 10) + " " + strconv.FormatInt(s.mtime, 10) + " " + strconv.Quote(k.name) + "\n")
	}
	return replace(root, NoGainFile, 0o644, nil, time.Time{}, func(f *os.File) error {
		_, err := f.Write(b.Bytes())
		return err
	})
}
