package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/site"
)

// shareFolder is a folder as people share it: a dozen entries of every
// kind, sizes from bytes to megabytes (sparse files), ages from minutes to
// a year. Sizes and ages are chosen so every sort order differs.
var shareFolder = []struct {
	name string
	size int64 // -1 for a folder
	age  time.Duration
}{
	{"Photos", -1, 26 * time.Hour},
	{"Projects", -1, 3 * 24 * time.Hour},
	{"README.md", 2150, 5 * time.Minute},
	{"notes.txt", 640, 2 * time.Hour},
	{"Quarterly report.pdf", 1_890_000, 15 * 24 * time.Hour},
	{"holiday-2026.jpg", 3_560_000, 40 * 24 * time.Hour},
	{"song.mp3", 5_450_000, 4 * 24 * time.Hour},
	{"talk.mp4", 88_100_000, 6 * time.Hour},
	{"backup.tar.gz", 12_600_000, 400 * 24 * time.Hour},
	{"main.go", 3120, 30 * time.Minute},
	{"data.json", 18_400, 9 * 24 * time.Hour},
	{"Résumé – Zoë.pdf", 1240, 50 * 24 * time.Hour},
	{"file-2.txt", 12, 70 * 24 * time.Hour},
	{"file-10.txt", 24, 71 * 24 * time.Hour},
}

// TestListingBrowser loads a folder listing, served with the security
// preset (whose Content-Security-Policy must let the filter's inline
// script run), in headless Chromium and checks that it renders with no
// console error and no request beyond the page,
// that a click on the Size header sorts by size (a link: a new page), that
// typing in the filter box hides the rows that do not match, that dark mode
// follows the system and that a phone's width needs no sideways scrolling.
// It saves a screenshot (light mode, with the folder's download links and
// the upload form in view) in its temporary directory, or, with
// WEFT_TEST_UPDATE_SCREENSHOT=1, as docs/listing.png for the README.
func TestListingBrowser(t *testing.T) {
	chromium := findChromium(t)
	root := t.TempDir()
	now := time.Now()
	for _, e := range shareFolder {
		p := filepath.Join(root, e.name)
		if e.size < 0 {
			must(t, os.Mkdir(p, 0o755))
		} else {
			f, err := os.Create(p)
			must(t, err)
			must(t, f.Truncate(e.size))
			f.Close()
		}
		must(t, os.Chtimes(p, now.Add(-e.age), now.Add(-e.age)))
	}
	srv := conformance.StartBinary(weftBin(t))(t, conformance.Options{Site: site.Config{Root: root, Listing: true, Security: true,
		Upload: site.UploadConfig{On: true}}})
	origin := "http://" + srv.Addr

	ctx, browserOut, stop := newBrowser(t, chromium, 40*time.Second)
	defer stop()

	// Requests: every one but the listing pages themselves.
	w := watchPage(t, ctx, browserOut, func(ev *network.EventRequestWillBeSent) bool {
		return ev.Type == network.ResourceTypeDocument && strings.HasPrefix(ev.Request.URL, origin+"/")
	})
	eval := func(js string) string { t.Helper(); return evalJS(t, ctx, js) }
	media := func(scheme string) { t.Helper(); colorScheme(t, ctx, scheme) }
	// rowNames is the names of the rows shown, in order.
	const rowNames = `[...document.querySelectorAll("tbody tr[data-e]")].filter(r => !r.hidden).map(r => r.querySelector("td.n span").textContent).join("|")`

	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(980, 790)))
	media("light")
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(origin+"/"))
	if err != nil {
		t.Fatalf("navigate: %v\n%s", err, tail(browserOut.String()))
	}
	if resp.Status != 200 || resp.MimeType != "text/html" {
		t.Fatalf("listing: %d %s", resp.Status, resp.MimeType)
	}
	names := strings.Split(eval(rowNames), "|")
	if len(names) != len(shareFolder) || names[0] != "Photos" || names[1] != "Projects" {
		t.Errorf("rows %q: want the %d entries, folders first", names, len(shareFolder))
	}
	if i, j := slices.Index(names, "file-2.txt"), slices.Index(names, "file-10.txt"); i < 0 || j < i {
		t.Errorf("rows %q: file-2 must come before file-10", names)
	}
	if got := eval(`String(document.querySelectorAll("svg.i").length > 0 && getComputedStyle(document.querySelector("td.n svg")).width)`); got == "false" || got == "auto" || got == "0px" {
		t.Errorf("icons do not render: width %s", got)
	}
	if got := eval(`String(!document.getElementById("filter").hidden)`); got != "true" {
		t.Error("the script did not reveal the filter box")
	}

	// What the screenshot is to show: the folder's downloads and the
	// upload form, whole, within the window.
	for _, sel := range []string{`a[href="?download=zip"]`, `a[href="?download=tar.gz"]`, `form#upload`} {
		js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return "missing"; const r = e.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight ? "shown" : "out of view at " + r.top + "-" + r.bottom })()`, sel)
		if got := eval(js); got != "shown" {
			t.Errorf("%s: %s", sel, got)
		}
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if img, err := png.Decode(bytes.NewReader(shot)); err != nil || img.Bounds().Dx() < 900 {
		t.Errorf("screenshot is not a page-sized PNG: %v", err)
	}
	file := filepath.Join(t.TempDir(), "listing.png")
	if os.Getenv("WEFT_TEST_UPDATE_SCREENSHOT") == "1" {
		file = filepath.Join("..", "..", "docs", "listing.png")
		must(t, os.MkdirAll(filepath.Dir(file), 0o755))
	}
	must(t, os.WriteFile(file, shot, 0o644))
	t.Logf("screenshot: %s", file)

	// Dark mode follows the system.
	light := eval(`getComputedStyle(document.body).backgroundColor`)
	media("dark")
	if dark := eval(`getComputedStyle(document.body).backgroundColor`); dark == light {
		t.Errorf("background %s in both light and dark mode", dark)
	}
	media("light")

	// Sort by size: a link, so a new page sorted by the server.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("th.s a"))); err != nil {
		t.Fatalf("click Size: %v", err)
	}
	waitFor(t, ctx, `location.search === "?sort=size&order=asc" && document.readyState === "complete"`)
	sizes := eval(`[...document.querySelectorAll("tbody tr[data-e] td.s[title]")].map(td => parseInt(td.title)).join(",")`)
	var last int64 = -1
	for _, f := range strings.Split(sizes, ",") {
		n, _ := strconv.ParseInt(f, 10, 64)
		if n < last {
			t.Errorf("sorted by size: %s", sizes)
			break
		}
		last = n
	}
	if got := eval(`document.querySelector("th.s").getAttribute("aria-sort")`); got != "ascending" {
		t.Errorf("Size header aria-sort %q", got)
	}

	// The filter hides the rows that do not match, on the sorted page.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#filter"), "FILE")); err != nil {
		t.Fatalf("type in the filter: %v", err)
	}
	shown := strings.Split(eval(rowNames), "|")
	if !slices.Equal(shown, []string{"file-2.txt", "file-10.txt"}) {
		t.Errorf("filter \"FILE\" shows %q", shown)
	}
	if got := eval(`document.getElementById("count").textContent`); got != "2 of 14 shown" {
		t.Errorf("count %q", got)
	}

	// Every entry is a real link, reachable from the keyboard.
	if got := eval(`String(document.querySelectorAll("tbody tr[data-e] td.n a[href]").length)`); got != strconv.Itoa(len(shareFolder)) {
		t.Errorf("%s entry links, want %d", got, len(shareFolder))
	}

	// A phone: no sideways scrolling.
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(origin+"/")))
	if got := eval(`String(document.documentElement.scrollWidth)`); got != "390" {
		t.Errorf("at 390 px wide, the page is %s px wide", got)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	pages, requests, console := w.pages, w.requests, w.console
	if len(pages) != 3 {
		t.Errorf("pages loaded: %q, want the listing, its sorted page, the listing", pages)
	}
	for _, r := range requests {
		t.Errorf("a request beyond the page: %s", r)
	}
	for _, m := range console {
		t.Errorf("console: %s", m)
	}
}

// evalJS evaluates the JavaScript expression js, a string, in the page.
func evalJS(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// colorScheme makes the page see the system's prefers-color-scheme as
// scheme ("light" or "dark").
func colorScheme(t *testing.T, ctx context.Context, scheme string) {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
}

// pageWatch is what a page did in the browser, as watchPage records it:
// the documents page set apart (pages), every other request, and the
// page's errors and warnings (see pageProblem). Read it under mu.
type pageWatch struct {
	mu                       sync.Mutex
	pages, requests, console []string
}

// watchPage starts recording what the browser at ctx does (browserOut is
// its output, for a failure to start); page, when not nil, says which
// requests are the pages under test rather than requests beyond them.
func watchPage(t *testing.T, ctx context.Context, browserOut interface{ String() string }, page func(*network.EventRequestWillBeSent) bool) *pageWatch {
	t.Helper()
	w := &pageWatch{}
	err := chromedp.Listen(ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if page != nil && page(ev) {
				w.pages = append(w.pages, ev.Request.URL)
			} else {
				w.requests = append(w.requests, fmt.Sprintf("%s (%s)", ev.Request.URL, ev.Type))
			}
		default:
			if m, ok := pageProblem(ev); ok {
				w.console = append(w.console, m)
			}
		}
	})
	if err != nil {
		t.Fatalf("start Chromium: %v\n%s", err, tail(browserOut.String()))
	}
	return w
}

// pageProblem describes a DevTools event that reports an error or a
// warning of the page (console, uncaught exception, browser log).
func pageProblem(ev any) (string, bool) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			return fmt.Sprintf("console.%s", ev.Type), true
		}
	case *runtime.EventExceptionThrown:
		return "exception: " + ev.ExceptionDetails.Text, true
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			return fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL), true
		}
	}
	return "", false
}

// waitFor polls the JavaScript condition cond until it holds, for up to
// five seconds.
func waitFor(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s (%v)", cond, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
