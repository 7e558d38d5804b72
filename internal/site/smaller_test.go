package site_test

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/weft-server/weft/internal/site"
)

// TestRangeStartPastEnd: a range set whose every first-pos is at or past
// the end, however large the number, is unsatisfiable: 416 with
// Content-Range: bytes */LEN (RFC 9110 §14.1.2), from memory and from an
// open file alike (issue 13 item 17).
func TestRangeStartPastEnd(t *testing.T) {
	root := t.TempDir()
	small := strings.Repeat("s", 100)
	large := strings.Repeat("L", 100<<10)
	os.WriteFile(filepath.Join(root, "small"), []byte(small), 0o644)
	os.WriteFile(filepath.Join(root, "large"), []byte(large), 0o644)
	addr := listen(t, openSite(t, root, site.CacheConfig{}))
	cases := []struct {
		rng    string
		status int
		cr     string // Content-Range, with LEN for the size
		body   string // a prefix of the file, by length, for 206
		off    int
	}{
		{"bytes=9223372036854775807-", 416, "bytes */LEN", "", 0},
		{"bytes=9223372036854775808-", 416, "bytes */LEN", "", 0},
		{"bytes=99999999999999999999999999-", 416, "bytes */LEN", "", 0},
		{"bytes=LEN-", 416, "bytes */LEN", "", 0},
		{"bytes=LEN-99999999999999999999", 416, "bytes */LEN", "", 0},
		{"bytes=9223372036854775807-, 99999999999999999999-", 416, "bytes */LEN", "", 0},
		{"bytes=9223372036854775807-, 0-1", 206, "bytes 0-1/LEN", "2", 0},
		{"bytes=3-99999999999999999999", 206, "bytes 3-END/LEN", "rest", 3},
		{"bytes=-99999999999999999999", 206, "bytes 0-END/LEN", "rest", 0},
	}
	for _, file := range []struct{ name, body string }{{"small", small}, {"large", large}} {
		n := fmt.Sprint(len(file.body))
		end := fmt.Sprint(len(file.body) - 1)
		for round := range 2 { // the first fills the cache
			for _, tc := range cases {
				rng := strings.ReplaceAll(tc.rng, "LEN", n)
				r := get(t, addr, "/"+file.name, "Range: "+rng+"\r\n")
				want := strings.NewReplacer("LEN", n, "END", end).Replace(tc.cr)
				if r.status != tc.status || r.header["content-range"] != want {
					t.Errorf("%s round %d, %s: %d %q, want %d %q", file.name, round, rng, r.status, r.header["content-range"], tc.status, want)
				}
				switch tc.body {
				case "2":
					if r.body != file.body[:2] {
						t.Errorf("%s %s: body %.20q", file.name, rng, r.body)
					}
				case "rest":
					if r.body != file.body[tc.off:] {
						t.Errorf("%s %s: %d body bytes", file.name, rng, len(r.body))
					}
				}
			}
		}
	}
}

// TestListingLinksFetch: every name a listing shows links to a URL that
// fetches that very file, and names that no request could reach (control
// bytes, backslash) are not listed (issue 13 item 17).
func TestListingLinksFetch(t *testing.T) {
	root := t.TempDir()
	names := []string{
		"plain.txt", "a b.txt", "hash#tag", "what?x=1", "pct%41", "pct%", `quote"d`, "apos'd",
		"<lt>&amp", "café", "日本", "colon:x", "semi;colon", "plus+eq=", "tilde~", "star*", "bang!",
		"\xff\xfe", "-dash", "a,b",
	}
	hidden := []string{"ctl\x01x", "tab\tx", "nl\nx", "del\x7fx", `back\slash`}
	for i, n := range append(append([]string{}, names...), hidden...) {
		if err := os.WriteFile(filepath.Join(root, n), []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(root, "sub dir#"), 0o755)
	os.WriteFile(filepath.Join(root, "sub dir#", "in?.txt"), []byte("inner\n"), 0o644)
	st, err := site.Open(site.Config{Root: root, Listing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	addr := listen(t, st)
	// An entry's link: its icon, then its name (a folder's href ends in "/").
	hrefs := regexp.MustCompile(`<a href="([^"]*)"><svg[^>]*><use[^>]*></svg><span>([^<]*)</span>`)
	check := func(dir string, want map[string]string) {
		t.Helper()
		r := get(t, addr, dir)
		if r.status != 200 {
			t.Fatalf("listing %s: %d", dir, r.status)
		}
		listed := map[string]bool{}
		for _, m := range hrefs.FindAllStringSubmatch(r.body, -1) {
			href, shown := html.UnescapeString(m[1]), html.UnescapeString(m[2])
			if href == "../" {
				continue
			}
			if strings.HasSuffix(href, "/") {
				shown += "/"
			}
			listed[shown] = true
			if strings.ContainsAny(href, "?#\"<> ") {
				t.Errorf("%q: href %q is not fully encoded", shown, href)
			}
			body, ok := want[shown]
			if !ok {
				t.Errorf("%s lists %q (href %q)", dir, shown, href)
				continue
			}
			if strings.HasSuffix(shown, "/") {
				continue
			}
			if f := get(t, addr, dir+href); f.status != 200 || f.body != body {
				t.Errorf("%q: GET %s: %d %q, want %q", shown, dir+href, f.status, f.body, body)
			}
		}
		for shown := range want {
			if !listed[shown] {
				t.Errorf("%s does not list %q", dir, shown)
			}
		}
	}
	want := map[string]string{"sub dir#/": ""}
	for i, n := range names {
		want[n] = fmt.Sprintf("file %d\n", i)
	}
	check("/", want)
	check("/sub%20dir%23/", map[string]string{"in?.txt": "inner\n"})
}
