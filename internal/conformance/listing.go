package conformance

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/site"
)

// listingFiles are the files of the listing tree (see listingTree), by
// name, with their content: names in several scripts and with every byte
// a link must encode.
var listingFiles = map[string]string{
	"a.txt":                 "a\n",
	"B.txt":                 "bb\n",
	"c.txt":                 "ccc\n",
	"file-1":                "1\n",
	"file-2":                "22\n",
	"file-10":               "10 10 10\n",
	"file-100":              "100 100 100 100 100\n",
	"a b.txt":               "space\n",
	"hash#tag.txt":          "hash\n",
	"what?x=1":              "query\n",
	"100%.txt":              "percent\n",
	"%41.txt":               "percent-encoded-looking\n",
	`quote"d.txt`:           "double quote\n",
	"apos'd.txt":            "single quote\n",
	"<lt>&amp;.html":        "<p>angle</p>\n",
	"日本語のファイル.txt":          "japanese\n",
	"Ελληνικά.md":           "greek\n",
	"العربية.txt":           "arabic\n",
	"Кириллица":             "cyrillic\n",
	"emoji 🎉.png":           "\x89PNG\r\n\x1a\n",
	"sub dir/inner #1.txt":  "inner\n",
	"sub dir/deeper/x.json": "{}\n",
}

// listingHidden are names in the listing tree that no listing shows.
var listingHidden = []string{".hidden", "back\\slash.txt", "link-out", "link-dangling", "fifo"}

// listingTree builds a folder to list: listingFiles, a hidden file, a name
// with a backslash (which weft refuses in paths), a FIFO, and links: to a
// folder and a file inside, out of the root, and to nothing. Each file has
// its own modification time (a minute apart, in name order), so sorting
// by time is deterministic.
func listingTree(t *testing.T) (root string, links bool) {
	t.Helper()
	root = t.TempDir()
	names := make([]string, 0, len(listingFiles))
	for n := range listingFiles {
		names = append(names, n)
	}
	slices.Sort(names)
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i, n := range names {
		p := filepath.Join(root, filepath.FromSlash(n))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(listingFiles[n]), 0o644))
		tm := base.Add(time.Duration(i) * time.Minute)
		must(t, os.Chtimes(p, tm, tm))
	}
	must(t, os.WriteFile(filepath.Join(root, ".hidden"), []byte("hidden\n"), 0o644))
	if runtime.GOOS == "windows" {
		return root, false
	}
	must(t, os.WriteFile(filepath.Join(root, "back\\slash.txt"), []byte("backslash\n"), 0o644))
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("outside\n"), 0o644))
	must(t, os.Symlink("sub dir", filepath.Join(root, "link-dir")))
	must(t, os.Symlink("B.txt", filepath.Join(root, "link-file")))
	must(t, os.Symlink(outside, filepath.Join(root, "link-out")))
	must(t, os.Symlink("missing", filepath.Join(root, "link-dangling")))
	mkfifo(t, filepath.Join(root, "fifo"))
	return root, true
}

// listedEntry is one entry of a JSON listing.
type listedEntry struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Size    int64  `json:"size"`
	Mtime   string `json:"mtime"`
	URL     string `json:"url"`
	Symlink bool   `json:"symlink"`
}

// rowLink is an entry's link in an HTML listing: its href and the name
// shown.
var rowLink = regexp.MustCompile(`<tr data-e[^>]*><td class="n"><a href="([^"]*)"><svg[^>]*><use[^>]*></svg><span>([^<]*)</span>`)

// encodedPath matches a relative path of one segment, percent-encoded but
// for the unreserved bytes, with an optional trailing slash.
var encodedPath = regexp.MustCompile(`^([A-Za-z0-9._~-]|%[0-9A-F]{2})+/?$`)

func (s *suite) listing(t *testing.T) {
	t.Run("Basics", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: s.root, Listing: true}})
		r := one(t, srv.Addr, get("/empty/"))
		wantStatus(t, r, 200)
		r = one(t, srv.Addr, get("/dir/sub/"))
		wantStatus(t, r, 200)
		wantHeader(t, r, "Content-Type", "text/html; charset=utf-8")
		if !strings.Contains(r.Body, `href="file.txt"`) || !strings.Contains(r.Body, `href="../"`) {
			t.Errorf("listing lacks entries:\n%s", r.Body)
		}
		r = one(t, srv.Addr, get("/"))
		wantStatus(t, r, 200) // index.html still wins
		r = one(t, srv.Addr, get("/.git/"))
		wantStatus(t, r, 404)
	})

	root, links := listingTree(t)
	srv := s.start(t, Options{Site: site.Config{Root: root, Listing: true}})
	// The root's entries, in name order (folders first), as listed.
	var want []string
	for n := range listingFiles {
		if !strings.Contains(n, "/") {
			want = append(want, n)
		}
	}
	slices.SortFunc(want, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	dirs := []string{"sub dir"}
	if links {
		dirs = []string{"link-dir", "sub dir"}
		want = append(want, "link-file")
	}
	fetch := func(t *testing.T, path string) *Resp {
		t.Helper()
		return one(t, srv.Addr, get(path))
	}

	t.Run("HTML", func(t *testing.T) {
		r := fetch(t, "/")
		wantStatus(t, r, 200)
		wantHeader(t, r, "Content-Type", "text/html; charset=utf-8")
		wantHeader(t, r, "Vary", "Accept")
		seen := map[string]bool{}
		for _, m := range rowLink.FindAllStringSubmatch(r.Body, -1) {
			href, shown := m[1], html.UnescapeString(m[2])
			if !encodedPath.MatchString(href) {
				t.Errorf("%q: href %q is not percent-encoded", shown, href)
			}
			seen[shown] = true
			f := fetch(t, "/"+href)
			if strings.HasSuffix(href, "/") {
				if f.Status != 200 || !strings.Contains(f.Body, "inner #1.txt") {
					t.Errorf("%q: GET /%s: %d, want the listing of sub dir", shown, href, f.Status)
				}
				continue
			}
			body, ok := listingFiles[shown]
			if shown == "link-file" {
				body, ok = listingFiles["B.txt"], true
			}
			if !ok {
				t.Errorf("lists %q (href %q), not in the folder", shown, href)
			} else if f.Status != 200 || f.Body != body {
				t.Errorf("%q: GET /%s: %d %q, want %q", shown, href, f.Status, f.Body, body)
			}
		}
		for _, n := range append(slices.Clone(dirs), want...) {
			if !seen[n] {
				t.Errorf("does not list %q", n)
			}
		}
		for _, n := range listingHidden {
			if seen[n] || strings.Contains(r.Body, "<span>"+html.EscapeString(n)+"</span>") {
				t.Errorf("lists %q", n)
			}
		}
		if strings.Contains(r.Body, "<lt>") || !strings.Contains(r.Body, "&lt;lt&gt;&amp;amp;.html") {
			t.Error("names are not escaped")
		}
		// The subfolder: breadcrumbs and its entries.
		r = fetch(t, "/sub%20dir/")
		wantStatus(t, r, 200)
		for _, w := range []string{`href="inner%20%231.txt"`, `href="deeper/"`, `<title>Index of /sub dir/</title>`, `<a href="../" class="home" title="Root folder">`} {
			if !strings.Contains(r.Body, w) {
				t.Errorf("/sub dir/ lacks %s", w)
			}
		}
	})

	t.Run("JSON", func(t *testing.T) {
		r := one(t, srv.Addr, get("/", "Accept: application/json"))
		wantStatus(t, r, 200)
		wantHeader(t, r, "Content-Type", "application/json")
		wantHeader(t, r, "Vary", "Accept")
		var got []listedEntry
		if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
			t.Fatalf("%v\n%s", err, r.Body)
		}
		var names []string
		for _, e := range got {
			names = append(names, e.Name)
			if _, err := time.Parse(time.RFC3339, e.Mtime); err != nil {
				t.Errorf("%q: mtime %q: %v", e.Name, e.Mtime, err)
			}
			f := fetch(t, e.URL)
			switch {
			case e.Type == "dir":
				if !strings.HasSuffix(e.URL, "/") || f.Status != 200 {
					t.Errorf("%+v: GET: %d", e, f.Status)
				}
			case e.Type != "file":
				t.Errorf("%+v: type %q", e, e.Type)
			default:
				body := listingFiles[e.Name]
				if e.Name == "link-file" {
					body = listingFiles["B.txt"]
				}
				if f.Status != 200 || f.Body != body || e.Size != int64(len(body)) {
					t.Errorf("%+v: GET: %d %q, want %q of %d bytes", e, f.Status, f.Body, body, len(body))
				}
			}
			if e.Symlink != strings.HasPrefix(e.Name, "link-") {
				t.Errorf("%+v: symlink %v", e, e.Symlink)
			}
		}
		if all := append(slices.Clone(dirs), want...); !sameSet(names, all) {
			t.Errorf("names %q,\nwant %q", names, all)
		}
	})

	t.Run("Plain", func(t *testing.T) {
		r := one(t, srv.Addr, get("/", "Accept: text/plain"))
		wantStatus(t, r, 200)
		wantHeader(t, r, "Content-Type", "text/plain; charset=utf-8")
		wantHeader(t, r, "Vary", "Accept")
		lines := strings.Split(strings.TrimSuffix(r.Body, "\n"), "\n")
		if len(lines) != len(dirs)+len(want) {
			t.Errorf("%d lines, want %d:\n%s", len(lines), len(dirs)+len(want), r.Body)
		}
		for _, u := range lines {
			if !strings.HasPrefix(u, "/") || !encodedPath.MatchString(u[1:]) {
				t.Errorf("%q is not an encoded absolute path", u)
			}
			if f := fetch(t, u); f.Status != 200 {
				t.Errorf("GET %s: %d", u, f.Status)
			}
		}
	})

	t.Run("Negotiation", func(t *testing.T) {
		for accept, ctype := range map[string]string{
			"":            "text/html; charset=utf-8",
			"Accept: */*": "text/html; charset=utf-8",
			"Accept: text/html;q=0.4, application/json;q=0.6": "application/json",
			"Accept: application/json;q=0, text/plain":        "text/plain; charset=utf-8",
			"Accept: image/png":                               "text/html; charset=utf-8",
		} {
			var hs []string
			if accept != "" {
				hs = append(hs, accept)
			}
			r := one(t, srv.Addr, get("/sub%20dir/", hs...))
			wantStatus(t, r, 200)
			if got := r.Header.Get("Content-Type"); got != ctype {
				t.Errorf("%q: Content-Type %q, want %q", accept, got, ctype)
			}
			wantHeader(t, r, "Vary", "Accept")
		}
	})

	t.Run("Sort", func(t *testing.T) {
		files := slices.DeleteFunc(slices.Clone(want), func(n string) bool { return n == "link-file" })
		order := func(q string) []string {
			r := one(t, srv.Addr, get("/"+q, "Accept: application/json"))
			var got []listedEntry
			if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			var names []string
			for _, e := range got {
				if e.Name != "link-file" {
					names = append(names, e.Name)
				}
			}
			return names
		}
		byName := order("")
		for _, seq := range [][]string{{"a.txt", "B.txt", "c.txt"}, {"file-1", "file-2", "file-10", "file-100"}} {
			if !inOrder(byName, seq) {
				t.Errorf("by name: %q not in order %q", byName, seq)
			}
		}
		if byName[0] != dirs[0] {
			t.Errorf("by name: folders not first: %q", byName)
		}
		desc := order("?sort=name&order=desc")
		if !inOrder(desc, []string{"file-100", "file-10", "file-2", "file-1"}) || desc[0] != dirs[len(dirs)-1] {
			t.Errorf("by name, descending: %q", desc)
		}
		bySize := order("?sort=size")[len(dirs):]
		for i := 1; i < len(bySize); i++ {
			if len(listingFiles[bySize[i-1]]) > len(listingFiles[bySize[i]]) {
				t.Errorf("by size: %q before %q", bySize[i-1], bySize[i])
			}
		}
		bySizeDesc := order("?sort=size&order=desc")[len(dirs):]
		largest := slices.MaxFunc(files, func(a, b string) int { return len(listingFiles[a]) - len(listingFiles[b]) })
		if bySizeDesc[0] != largest || len(bySize) != len(files) {
			t.Errorf("by size, descending: %q", bySizeDesc)
		}
		byTime := order("?sort=modified")[len(dirs):]
		sorted := slices.Clone(files)
		slices.Sort(sorted) // the tree's times follow the byte order of the names
		if !slices.Equal(byTime, sorted) {
			t.Errorf("by time: %q,\nwant %q", byTime, sorted)
		}
		// Sort links work without JavaScript: the HTML page links them.
		r := fetch(t, "/?sort=size&order=desc")
		if !strings.Contains(r.Body, `<a href="?sort=size&amp;order=asc">Size`) || !strings.Contains(r.Body, `aria-sort="descending"`) {
			t.Errorf("size header of a page sorted by size, descending:\n%s", r.Body)
		}
	})

	t.Run("Symlinks", func(t *testing.T) {
		if !links {
			t.Skip("no symbolic links here")
		}
		for policy, wantLinks := range map[string][]string{
			site.SymlinksConfine: {"link-dir", "link-file"},
			site.SymlinksFollow:  {"link-dir", "link-file", "link-out"},
			site.SymlinksDeny:    nil,
		} {
			srv := s.start(t, Options{Site: site.Config{Root: root, Listing: true, Symlinks: policy}})
			r := one(t, srv.Addr, get("/", "Accept: application/json"))
			var got []listedEntry
			if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
				t.Fatalf("%s: %v", policy, err)
			}
			var linked []string
			for _, e := range got {
				if strings.HasPrefix(e.Name, "link-") {
					linked = append(linked, e.Name)
					if f := one(t, srv.Addr, get(e.URL)); f.Status != 200 {
						t.Errorf("%s: %s listed but answers %d", policy, e.URL, f.Status)
					}
					if e.Name == "link-dir" && e.Type != "dir" || e.Name == "link-file" && (e.Type != "file" || e.Size != 3) {
						t.Errorf("%s: %+v, want the target's type and size", policy, e)
					}
				}
			}
			if !sameSet(linked, wantLinks) {
				t.Errorf("%s: links listed %q, want %q", policy, linked, wantLinks)
			}
		}
	})

	t.Run("Dotfiles", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: root, Listing: true, Dotfiles: true}})
		r := one(t, srv.Addr, get("/", "Accept: text/plain"))
		if !strings.Contains(r.Body, "/.hidden\n") {
			t.Errorf("with dotfiles, .hidden is not listed:\n%s", r.Body)
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// inOrder reports whether seq appears in list in this order.
func inOrder(list, seq []string) bool {
	last := -1
	for _, n := range seq {
		i := slices.Index(list, n)
		if i <= last {
			return false
		}
		last = i
	}
	return true
}
