package report

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var writeTo = flag.String("write-html", "", "also write the fixture's report to this file (to look at it)")

// fixture reads testdata/run.json, a small recorded run.
func fixture(t *testing.T) *Run {
	t.Helper()
	r, err := ReadJSON(filepath.Join("testdata", "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestHTMLSelfContained: the page fetches nothing (no src, no link, no
// url(), no script), every chart has its axes, legend and points, and the
// SVG is well-formed XML.
func TestHTMLSelfContained(t *testing.T) {
	r := fixture(t)
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if *writeTo != "" {
		os.WriteFile(*writeTo, b.Bytes(), 0o644)
	}
	// The one link is the empty icon, there so a browser asks for no favicon.
	rest := strings.Replace(page, `<link rel="icon" href="data:,">`, "", 1)
	rest = strings.ReplaceAll(rest, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, bad := range []string{"<script", "<link", " src=", " href=", "url(", "@import", "http://", "https://"} {
		if strings.Contains(rest, bad) {
			t.Errorf("the page contains %q: it must need nothing beyond itself", bad)
		}
	}
	for _, id := range []string{"rps", "p99", "rss", "cpu"} {
		i := strings.Index(page, `<figure id="`+id+`">`)
		if i < 0 {
			t.Errorf("no %s chart", id)
			continue
		}
		fig := page[i : i+strings.Index(page[i:], "</figure>")]
		svg := regexp.MustCompile(`(?s)<svg class="chart".*?</svg>\n`).FindString(fig)
		if err := xml.Unmarshal([]byte(svg), new(any)); err != nil {
			t.Errorf("%s: SVG not well-formed: %v", id, err)
		}
		for _, want := range []string{`class="xlabel"`, `class="ylabel"`, `<circle class="dot"`, `<ul class="legend">`, `class="claim"`} {
			if !strings.Contains(fig, want) {
				t.Errorf("%s chart lacks %s", id, want)
			}
		}
		for _, s := range r.Servers() {
			if !strings.Contains(fig, `data-server="`+s+`"`) {
				t.Errorf("%s chart has no series for %s", id, s)
			}
		}
	}
	for _, m := range []string{"prefers-color-scheme: dark", "@media print", `name="viewport"`} {
		if !strings.Contains(page, m) {
			t.Errorf("no %q", m)
		}
	}
}

// TestHTMLMissingWorkload: a chart whose workload was not measured says
// so instead of drawing an empty frame.
func TestHTMLMissingWorkload(t *testing.T) {
	r := fixture(t)
	var keep []Point
	for _, p := range r.Points {
		if p.Workload != "idle" {
			keep = append(keep, p)
		}
	}
	r.Points = keep
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `Not measured in this run: add the &#34;idle&#34; workload`) {
		t.Errorf("no note for the missing idle chart")
	}
}

func TestCompare(t *testing.T) {
	a := fixture(t)
	b := fixture(t)
	for i := range b.Points {
		b.Points[i].RPS *= 2
	}
	var out bytes.Buffer
	if err := Compare(&out, a, b, "a", "b"); err != nil {
		t.Fatal(err)
	}
	p := a.Points[0]
	row := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(p.Server) + ` \| ` + p.Workload + ` \| \d+ \| \d+ \| \d+ \| 2\.00 \| 1\.00 \|`)
	if !row.MatchString(out.String()) {
		t.Errorf("no doubled req/s for %s:\n%s", p.Key(), out.String())
	}
	b.Points = []Point{{Server: "other", Workload: "x", Conns: 1}}
	if err := Compare(&out, a, b, "a", "b"); err == nil {
		t.Errorf("no error for runs with nothing in common")
	}
}

func TestNiceStep(t *testing.T) {
	for in, want := range map[float64]float64{0.3: 0.5, 1: 1, 1.2: 2, 3: 5, 7: 10, 4100: 5000} {
		if got := niceStep(in); got != want {
			t.Errorf("niceStep(%v) = %v; want %v", in, got, want)
		}
	}
}

// TestSVGFiles: each chart with data becomes a well-formed SVG file that
// carries its own style (both colour schemes) and legend.
func TestSVGFiles(t *testing.T) {
	dir := t.TempDir()
	r := fixture(t)
	names, err := WriteSVGs(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 4 {
		t.Fatalf("wrote %v; want at least rps, p99, rss and cpu", names)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(b, new(any)); err != nil {
			t.Errorf("%s: not well-formed: %v", n, err)
		}
		svg := string(b)
		for _, want := range []string{`xmlns="http://www.w3.org/2000/svg"`, "prefers-color-scheme: dark", `<circle class="dot"`, "<desc>"} {
			if !strings.Contains(svg, want) {
				t.Errorf("%s lacks %s", n, want)
			}
		}
		for _, s := range r.Servers() {
			if !strings.Contains(svg, `<text x="34" y="4">`+s+`</text>`) {
				t.Errorf("%s: no legend entry for %s", filepath.Base(n), s)
			}
		}
	}
}
