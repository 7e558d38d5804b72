package site

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

func TestNaturalCompare(t *testing.T) {
	want := []string{
		"a.txt", "B.txt", "c.txt",
		"file-01", "file-1", "file-2", "file-10", "file-100",
		"X", "x", "x0", "x9", "x10", "xa",
		"Ábc", "ábd", "émile", "Ωmega", "ωmega2", "かな", "漢字",
	}
	got := slices.Clone(want)
	for range 5 {
		for i := range got { // a deterministic shuffle
			j := (i*7 + 3) % len(got)
			got[i], got[j] = got[j], got[i]
		}
		slices.SortFunc(got, naturalCompare)
		if !slices.Equal(got, want) {
			t.Fatalf("sorted:\n%q\nwant:\n%q", got, want)
		}
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"a", "a", 0},
		{"a", "A", 1}, // same letters: by the exact bytes ('A' < 'a')
		{"f2", "f10", -1},
		{"f007", "f7", -1}, // the same value: by the exact bytes
		{"f99999999999999999999999", "f100000000000000000000000", -1}, // no overflow
		{"ab", "abc", -1},
		{"\xff", "\xfe", 1},
	} {
		if got := naturalCompare(tc.a, tc.b); got != tc.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := naturalCompare(tc.b, tc.a); got != -tc.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestNegotiateListing(t *testing.T) {
	for _, tc := range []struct {
		accept []string
		want   listFormat
	}{
		{nil, formatHTML},
		{[]string{"*/*"}, formatHTML},
		{[]string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, formatHTML},
		{[]string{"application/json"}, formatJSON},
		{[]string{"Application/JSON"}, formatJSON},
		{[]string{"text/plain"}, formatText},
		{[]string{"text/*"}, formatHTML},
		{[]string{"text/*;q=0.5, text/plain"}, formatText},
		{[]string{"text/html;q=0.5, application/json;q=0.9"}, formatJSON},
		{[]string{"text/html;q=0.5", "application/json;q=0.9"}, formatJSON}, // several fields
		{[]string{"application/json;q=0, */*"}, formatHTML},
		{[]string{"*/*;q=0.1, text/plain;q=0.2"}, formatText},
		{[]string{"text/plain;q=1.5"}, formatHTML}, // malformed: not acceptable
		{[]string{"image/png"}, formatHTML},        // nothing acceptable: HTML anyway
		{[]string{"application/json; charset=utf-8; q=0.8, text/html;q=0.7"}, formatJSON},
	} {
		req := &http1.Request{}
		for _, a := range tc.accept {
			req.Headers = append(req.Headers, http1.Header{Name: []byte("accept"), Value: []byte(a)})
		}
		if got := negotiateListing(req); got != tc.want {
			t.Errorf("Accept %q: format %d, want %d", tc.accept, got, tc.want)
		}
	}
}

func TestParseListQuery(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want listQuery
		link string
	}{
		{"", listQuery{sortName, false, 1}, "./"},
		{"sort=size&order=desc", listQuery{sortSize, true, 1}, "?sort=size&order=desc"},
		{"sort=modified", listQuery{sortMod, false, 1}, "?sort=modified&order=asc"},
		{"sort=bogus&order=up&page=x", listQuery{sortName, false, 1}, "./"},
		{"page=3&order=desc", listQuery{sortName, true, 3}, "?sort=name&order=desc&page=3"},
		{"page=0", listQuery{sortName, false, 1}, "./"},
	} {
		got := parseListQuery([]byte(tc.q))
		if got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.q, got, tc.want)
		}
		if l := got.query(got.page); l != tc.link {
			t.Errorf("%q: link %q, want %q", tc.q, l, tc.link)
		}
	}
}

func TestHumanSizeAndAge(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 10 << 20: "10 MiB", 5 << 30: "5.0 GiB"} {
		if got := string(appendHumanSize(nil, n)); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{-time.Second: "in the future", 5 * time.Second: "just now", time.Minute: "1 minute ago",
		3 * time.Hour: "3 hours ago", 30 * time.Hour: "yesterday", 72 * time.Hour: "3 days ago", 800 * 24 * time.Hour: "2 years ago"} {
		if got := string(appendRelative(nil, d)); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

// listingSite opens a site listing a fresh root built by build.
func listingSite(t testing.TB, cfg Config, build func(root string)) *Site {
	t.Helper()
	cfg.Root = t.TempDir()
	cfg.Listing = true
	build(cfg.Root)
	st, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func serveGet(st *Site, path, query string, headers ...string) *http1.Response {
	req := &http1.Request{Method: http1.MethodGet, Path: []byte(path), Minor: 1}
	if query != "" {
		req.Query = []byte(query)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Headers = append(req.Headers, http1.Header{Name: []byte(k), Value: []byte(v)})
	}
	resp := &http1.Response{}
	st.ServeHTTP1(req, resp)
	return resp
}

func header(resp *http1.Response, name string) []string {
	var vs []string
	for i := range resp.Header.Len() {
		if k, v := resp.Header.Field(i); strings.EqualFold(string(k), name) {
			vs = append(vs, string(v))
		}
	}
	return vs
}

type jsonEntry struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Size    int64  `json:"size"`
	Mtime   string `json:"mtime"`
	URL     string `json:"url"`
	Symlink bool   `json:"symlink"`
}

func TestListingEntries(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("outside\n"), 0o644)
	build := func(root string) {
		for name, body := range map[string]string{
			"a.txt": "a", "B.txt": "bb", "file-10": "", "file-2": "", "file-1": "",
			"x.css": "body{}", "x.css.gz": "gz", "lone.js.br": "br",
			".hidden": "h", "back\\slash": "b", "sub/in.txt": "in",
		} {
			p := filepath.Join(root, filepath.FromSlash(name))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		os.Symlink("sub", filepath.Join(root, "link-dir"))
		os.Symlink("a.txt", filepath.Join(root, "link-file"))
		os.Symlink(outside, filepath.Join(root, "link-out"))
		os.Symlink("missing", filepath.Join(root, "link-dangling"))
	}
	wantNames := func(policy string) []string {
		switch policy {
		case SymlinksDeny:
			return []string{"sub", "a.txt", "B.txt", "file-1", "file-2", "file-10", "lone.js.br", "x.css"}
		case SymlinksFollow:
			return []string{"link-dir", "link-out", "sub", "a.txt", "B.txt", "file-1", "file-2", "file-10", "link-file", "lone.js.br", "x.css"}
		}
		return []string{"link-dir", "sub", "a.txt", "B.txt", "file-1", "file-2", "file-10", "link-file", "lone.js.br", "x.css"}
	}
	for _, policy := range []string{SymlinksConfine, SymlinksFollow, SymlinksDeny} {
		t.Run(policy, func(t *testing.T) {
			st := listingSite(t, Config{Symlinks: policy}, build)
			resp := serveGet(st, "/", "", "Accept: application/json")
			if resp.Status != 200 {
				t.Fatalf("status %d", resp.Status)
			}
			if v := header(resp, "Vary"); !slices.Contains(v, "Accept") {
				t.Errorf("Vary %q", v)
			}
			var got []jsonEntry
			if err := json.Unmarshal(resp.Body, &got); err != nil {
				t.Fatalf("%v\n%s", err, resp.Body)
			}
			var names []string
			for _, e := range got {
				names = append(names, e.Name)
				switch e.Name {
				case "link-dir":
					if e.Type != "dir" || !e.Symlink || e.URL != "/link-dir/" {
						t.Errorf("link-dir: %+v", e)
					}
				case "link-file":
					if e.Type != "file" || e.Size != 1 || !e.Symlink {
						t.Errorf("link-file: %+v, want the target's type and size", e)
					}
				case "B.txt":
					if e.Type != "file" || e.Size != 2 || e.URL != "/B.txt" || e.Symlink {
						t.Errorf("B.txt: %+v", e)
					}
					if _, err := time.Parse(time.RFC3339, e.Mtime); err != nil {
						t.Errorf("mtime: %v", err)
					}
				}
			}
			if want := wantNames(policy); !slices.Equal(names, want) {
				t.Errorf("names %q,\nwant %q", names, want)
			}
		})
	}
}

func TestListingSortAndPages(t *testing.T) {
	st := listingSite(t, Config{}, func(root string) {
		for i, n := range []string{"b", "A", "c"} {
			os.WriteFile(filepath.Join(root, n), []byte(strings.Repeat("x", 10-i)), 0o644)
			tm := time.Date(2020, 1, 1+i, 0, 0, 0, 0, time.UTC)
			os.Chtimes(filepath.Join(root, n), tm, tm)
		}
		os.Mkdir(filepath.Join(root, "z"), 0o755)
	})
	for q, want := range map[string]string{
		"":                         "/z/ /A /b /c",
		"order=desc":               "/z/ /c /b /A",
		"sort=size":                "/z/ /c /A /b",
		"sort=size&order=desc":     "/z/ /b /A /c",
		"sort=modified":            "/z/ /b /A /c",
		"sort=modified&order=desc": "/z/ /c /A /b",
	} {
		resp := serveGet(st, "/", q, "Accept: text/plain")
		if got := strings.Join(strings.Fields(string(resp.Body)), " "); got != want {
			t.Errorf("?%s: %q, want %q", q, got, want)
		}
	}

	l := &dirList{}
	for i := range 12 {
		n := fmt.Sprintf("f%d", i)
		l.rows = append(l.rows, listRow{off: uint32(len(l.names)), n: uint32(len(n)), kind: kindFile})
		l.names = append(l.names, n...)
	}
	l.sort(listQuery{sort: sortName})
	rows, shown, pages := l.page(3, 5)
	if shown != 3 || pages != 3 || len(rows) != 2 || l.name(&rows[0]) != "f10" {
		t.Errorf("page 3 of 5 rows: %d rows, page %d of %d", len(rows), shown, pages)
	}
	if _, shown, _ := l.page(9, 5); shown != 3 {
		t.Errorf("page 9 shows %d, want the last", shown)
	}
	b := string(l.appendHTML(nil, htmlPage{name: "d", rows: rows, q: listQuery{sort: sortName, page: 3}, page: 3, pages: 3, total: 12, now: time.Now()}))
	if !strings.Contains(b, `<a rel="prev" href="?page=2">`) || strings.Contains(b, `rel="next"`) {
		t.Errorf("page links:\n%s", b)
	}
}

func TestListingHTMLEscapes(t *testing.T) {
	names := []string{`a "q" 'x'.txt`, "<b>&amp;.html", "hash#?.txt", "100%.txt", "日本語 ファイル.txt", "Ελληνικά", "عربي.txt"}
	st := listingSite(t, Config{}, func(root string) {
		for _, n := range names {
			os.WriteFile(filepath.Join(root, n), []byte(n), 0o644)
		}
		os.Mkdir(filepath.Join(root, "dir <x>"), 0o755)
		os.WriteFile(filepath.Join(root, "dir <x>", "f"), nil, 0o644)
	})
	b := string(serveGet(st, "/", "").Body)
	for _, want := range []string{
		`href="a%20%22q%22%20%27x%27.txt"`, `a &#34;q&#34; &#39;x&#39;.txt`,
		`href="%3Cb%3E%26amp%3B.html"`, `&lt;b&gt;&amp;amp;.html`,
		`href="hash%23%3F.txt"`, `href="100%25.txt"`, `日本語 ファイル.txt`,
		`href="dir%20%3Cx%3E/"`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(b, "<b>") {
		t.Error("a name is not escaped")
	}
	sub := string(serveGet(st, "/dir%20%3Cx%3E/", "").Body)
	if !strings.Contains(sub, "<title>Index of /dir &lt;x&gt;/</title>") || !strings.Contains(sub, `<a href="../" class="home" title="Root folder">`) {
		t.Errorf("subfolder page:\n%s", sub)
	}
}

func TestNoIndexHint(t *testing.T) {
	st := listingSite(t, Config{}, func(root string) { os.Mkdir(filepath.Join(root, "d"), 0o755) })
	st.cfg.Listing = false
	resp := serveGet(st, "/d/", "")
	if resp.Status != 403 || !strings.Contains(string(resp.Body), "--listing") {
		t.Errorf("status %d, body %s", resp.Status, resp.Body)
	}
}

// TestListingPages: past listPageRows entries, the listing is paged, in
// every format, with Link headers and links between the pages.
func TestListingPages(t *testing.T) {
	const n = listPageRows + 1
	st := listingSite(t, Config{}, func(root string) {
		for i := range n {
			f, err := os.Create(filepath.Join(root, fmt.Sprintf("f%05d", i)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	})
	resp := serveGet(st, "/", "")
	if rows := strings.Count(string(resp.Body), "<tr data-e"); rows != listPageRows {
		t.Errorf("page 1: %d rows", rows)
	}
	if got := header(resp, "Link"); !slices.Equal(got, []string{`<?page=2>; rel="next"`}) {
		t.Errorf("page 1: Link %q", got)
	}
	if !strings.Contains(string(resp.Body), `<a rel="next" href="?page=2">`) || !strings.Contains(string(resp.Body), "page 1 of 2") {
		t.Error("page 1 does not link page 2")
	}
	resp = serveGet(st, "/", "page=2&sort=name&order=desc", "Accept: text/plain")
	if string(resp.Body) != "/f00000\n" {
		t.Errorf("page 2, descending: %q", resp.Body)
	}
	if got := header(resp, "Link"); !slices.Equal(got, []string{`<?sort=name&order=desc>; rel="prev"`}) {
		t.Errorf("page 2: Link %q", got)
	}
	var got []jsonEntry
	resp = serveGet(st, "/", "page=2", "Accept: application/json")
	if err := json.Unmarshal(resp.Body, &got); err != nil || len(got) != 1 || got[0].Name != "f05000" {
		t.Errorf("JSON page 2: %v %+v", err, got)
	}
}

// FuzzNaturalCompare: the order is total and consistent: antisymmetric,
// zero only for equal names, and agreeing with itself through a third name.
func FuzzNaturalCompare(f *testing.F) {
	for _, s := range [][3]string{{"a", "B", "c"}, {"file-2", "file-10", "file-010"}, {"x01", "x1", "X1"}, {"é", "E", "\xff"}, {"9", "10", "a"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ab, ba := naturalCompare(a, b), naturalCompare(b, a)
		if ab != -ba {
			t.Fatalf("compare(%q, %q) = %d but compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		if (ab == 0) != (a == b) {
			t.Fatalf("compare(%q, %q) = %d", a, b, ab)
		}
		if bc := naturalCompare(b, c); ab < 0 && bc < 0 && naturalCompare(a, c) >= 0 {
			t.Fatalf("%q < %q < %q but not %q < %q", a, b, c, a, c)
		}
	})
}

// TestListingUntyped: an entry whose type the directory does not tell
// (DT_UNKNOWN, or any entry off Linux) is listed as one whose type it
// does, its size and time read at once.
func TestListingUntyped(t *testing.T) {
	st := listingSite(t, Config{}, func(root string) {
		os.WriteFile(filepath.Join(root, "f"), []byte("four"), 0o644)
		os.Mkdir(filepath.Join(root, "d"), 0o755)
		os.Symlink("f", filepath.Join(root, "l"))
		os.Symlink("/", filepath.Join(root, "out"))
	})
	typed, err := st.listDir(".", true)
	if err != nil {
		t.Fatal(err)
	}
	defer typed.Close()
	untyped := &dirList{dir: typed.dir, lstat: typed.lstat}
	for _, n := range []string{"d", "f", "l", "out", "missing"} {
		st.addEntry(untyped, ".", n, 0, false)
	}
	typed.sort(listQuery{sort: sortName})
	untyped.sort(listQuery{sort: sortName})
	if len(typed.rows) != 3 || len(untyped.rows) != len(typed.rows) {
		t.Fatalf("typed %d rows, untyped %d, want 3", len(typed.rows), len(untyped.rows))
	}
	for i := range typed.rows {
		a, b := typed.rows[i], untyped.rows[i]
		if typed.name(&a) != untyped.name(&b) || a.kind != b.kind || a.size != b.size || a.mod != b.mod || a.link != b.link || !b.known {
			t.Errorf("typed %q %+v, untyped %q %+v", typed.name(&a), a, untyped.name(&b), b)
		}
	}
}
