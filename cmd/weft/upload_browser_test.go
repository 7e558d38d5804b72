package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/site"
)

// TestListingUploadBrowser: in headless Chromium, a file chosen in the
// listing page's upload form (with the security preset on, so the form's
// script runs under the page's Content-Security-Policy) lands in the folder
// with its exact bytes, and the listing, reloaded, shows it; no console
// error on the way.
func TestListingUploadBrowser(t *testing.T) {
	chromium := findChromium(t)
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "existing.txt"), []byte("here before\n"), 0o644))
	srv := conformance.StartBinary(weftBin(t))(t, conformance.Options{Site: site.Config{
		Root: root, Listing: true, Security: true, Upload: site.UploadConfig{On: true},
	}})
	origin := "http://" + srv.Addr

	src := filepath.Join(t.TempDir(), "report é 1.bin")
	content := bytes.Repeat([]byte("weft upload\x00\xff"), 40000) // 520 KB: progress events fire
	must(t, os.WriteFile(src, content, 0o644))

	ctx, browserOut, stop := newBrowser(t, chromium, 40*time.Second)
	defer stop()

	var mu sync.Mutex
	var console []string
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				console = append(console, fmt.Sprintf("console.%s", ev.Type))
			}
		case *runtime.EventExceptionThrown:
			console = append(console, "exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				console = append(console, fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	if err != nil {
		t.Fatalf("start Chromium: %v\n%s", err, tail(browserOut.String()))
	}
	must(t, chromedp.Do(ctx, chromedp.Navigate(origin+"/")))
	must(t, chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{src})))
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#upload button[type="submit"]`))))

	// The script reloads the listing once the upload is answered.
	waitFor(t, ctx, `[...document.querySelectorAll("tbody tr[data-e] td.n span")].some(s => s.textContent === "report é 1.bin")`)
	got, err := os.ReadFile(filepath.Join(root, "report é 1.bin"))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("uploaded file: %d bytes (%v), want %d", len(got), err, len(content))
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".weft-upload-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range console {
		t.Errorf("console: %s", m)
	}
}
