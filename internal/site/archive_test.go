package site

import (
	"archive/zip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/weft-server/weft/internal/http1"
)

func TestDownloadFormat(t *testing.T) {
	for q, want := range map[string]string{
		"download=zip":             downloadZip,
		"download=tar.gz":          downloadTarGz,
		"sort=size&download=zip":   downloadZip,
		"download=zip&sort=size":   downloadZip,
		"download=tar":             "",
		"download=ZIP":             "",
		"xdownload=zip":            "",
		"download=zip2":            "",
		"":                         "",
		"download=tar%2Egz":        "", // decoded never: a link writes it plain
		"a=1&&download=tar.gz&b=2": downloadTarGz,
	} {
		if got := downloadFormat([]byte(q)); got != want {
			t.Errorf("%q: %q, want %q", q, got, want)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	for name, want := range map[string]string{
		"photos.zip":       `attachment; filename="photos.zip"`,
		"my files.tar.gz":  `attachment; filename="my files.tar.gz"`,
		"写真.zip":           `attachment; filename="_.zip"; filename*=UTF-8''%E5%86%99%E7%9C%9F.zip`,
		"café.zip":         `attachment; filename="caf_.zip"; filename*=UTF-8''caf%C3%A9.zip`,
		`a"b\c.zip`:        `attachment; filename="a_b_c.zip"; filename*=UTF-8''a%22b%5Cc.zip`,
		"100%.zip":         `attachment; filename="100_.zip"; filename*=UTF-8''100%25.zip`,
		"tab\tand\x7f.zip": `attachment; filename="tab_and_.zip"; filename*=UTF-8''tab%09and%7F.zip`,
		"semi;colon,'.zip": `attachment; filename="semi;colon,'.zip"`,
	} {
		got := contentDisposition(name)
		if got != want {
			t.Errorf("%q:\n got %s\nwant %s", name, got, want)
		}
		var f http1.Fields
		f.Add("Content-Disposition", got) // must be valid field syntax
	}
}

func TestStoredType(t *testing.T) {
	for name, stored := range map[string]bool{
		"a.jpg": true, "a.PNG": true, "a.webp": true, "a.mp4": true, "a.mp3": true, "a.woff2": true,
		"a.zip": true, "a.gz": true, "a.zst": true, "a.7z": true, "a.pdf": true, "a.docx": true,
		"a.txt": false, "a.html": false, "a.svg": false, "a.bmp": false, "a.wav": false, "a.json": false,
		"a.ttf": false, "a": false, "a.csv": false,
	} {
		if got := storedType(TypeOf(name)); got != stored {
			t.Errorf("%s (%s): stored %v, want %v", name, TypeOf(name), got, stored)
		}
	}
}

// tailBuffer keeps the last bytes written to it, as a ReaderAt over the
// whole stream that can read only them.
type tailBuffer struct {
	n    int64
	tail []byte
}

const tailKeep = 1 << 20

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	b.tail = append(b.tail, p...)
	if len(b.tail) > 2*tailKeep {
		b.tail = append(b.tail[:0], b.tail[len(b.tail)-tailKeep:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) ReadAt(p []byte, off int64) (int, error) {
	start := b.n - int64(len(b.tail))
	if off < start {
		return 0, errors.New("before the kept tail")
	}
	n := copy(p, b.tail[off-start:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestZip64: a file over 4 GiB goes into the zip with zip64 sizes and
// offsets, which Go's reader reads back from the central directory.
func TestZip64(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 4.5 GiB")
	}
	root := t.TempDir()
	const big = 4<<30 + 512<<20
	if err := os.WriteFile(filepath.Join(root, "big.mp4"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(root, "big.mp4"), big); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "z.txt"), []byte("after"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{Root: root, Listing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	req := http1.Request{Method: http1.MethodGet, Path: []byte("/"), Query: []byte("download=zip"), Minor: 1}
	var resp http1.Response
	s.ServeHTTP1(&req, &resp)
	if resp.Stream == nil {
		t.Fatalf("status %d, no stream", resp.Status)
	}
	var out tailBuffer
	n, err := resp.Stream.WriteTo(&out)
	if err != nil || n != out.n {
		t.Fatalf("WriteTo: %d bytes (%d written), %v", n, out.n, err)
	}
	zr, err := zip.NewReader(&out, out.n)
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 2 {
		t.Fatalf("%d entries", len(zr.File))
	}
	top := filepath.Base(root)
	f := zr.File[0]
	if f.Name != top+"/big.mp4" || f.UncompressedSize64 != big || f.Method != zip.Store {
		t.Errorf("first entry %q, %d bytes, method %d", f.Name, f.UncompressedSize64, f.Method)
	}
	f = zr.File[1]
	if f.Name != top+"/z.txt" || f.UncompressedSize64 != 5 {
		t.Errorf("second entry %q, %d bytes", f.Name, f.UncompressedSize64)
	}
	rc, err := f.Open() // past 4 GiB: its offset is a zip64 one
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "after" {
		t.Errorf("second entry: %q, %v", b, err)
	}
}
