package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/weft-server/weft/internal/report"
)

// TestReportBrowser opens the HTML report of a recorded run
// (internal/report/testdata/run.json) in headless Chromium and checks
// that each chart rendered (an SVG with a line and a point per server,
// laid out at a real size), that the page logs no error and requests
// nothing beyond itself, that dark mode follows the system, and that a
// phone's width needs no sideways scrolling (the table scrolls in its box).
func TestReportBrowser(t *testing.T) {
	chromium := findChromium(t)
	run, err := report.ReadJSON(filepath.Join("..", "..", "internal", "report", "testdata", "run.json"))
	must(t, err)
	var page bytes.Buffer
	must(t, report.WriteHTML(&page, run))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page.Bytes())
	}))
	defer srv.Close()

	ctx, browserOut, stop := newBrowser(t, chromium, 40*time.Second)
	defer stop()
	w := watchPage(t, ctx, browserOut, nil)
	eval := func(js string) string { t.Helper(); return evalJS(t, ctx, js) }
	media := func(scheme string) { t.Helper(); colorScheme(t, ctx, scheme) }

	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(1000, 800)))
	media("light")
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(srv.URL+"/"))
	if err != nil {
		t.Fatalf("navigate: %v\n%s", err, tail(browserOut.String()))
	}
	if resp.Status != 200 {
		t.Fatalf("report: status %d", resp.Status)
	}
	servers := len(run.Servers())
	for _, id := range []string{"rps", "p99", "rss", "cpu"} {
		// series with a drawn line, points, legend entries, rendered width
		got := eval(fmt.Sprintf(`(() => {
			const f = document.getElementById(%q), svg = f && f.querySelector("svg.chart");
			if (!svg) return "no svg";
			const lines = [...svg.querySelectorAll("polyline")].filter(l => l.getTotalLength() > 0).length;
			const dots = [...svg.querySelectorAll("circle.dot")].filter(c => c.getBoundingClientRect().width > 0).length;
			const ticks = svg.querySelectorAll("text").length;
			return [lines, dots, f.querySelectorAll("ul.legend li").length, Math.round(svg.getBoundingClientRect().width), ticks].join(" ");
		})()`, id))
		var lines, dots, legend, width, texts int
		if _, err := fmt.Sscan(got, &lines, &dots, &legend, &width, &texts); err != nil {
			t.Errorf("%s chart: %s", id, got)
			continue
		}
		if lines != servers || dots < servers || legend != servers || width < 500 || texts < 6 {
			t.Errorf("%s chart: %d drawn lines, %d points, %d legend entries, %d px wide, %d labels; want %d lines, %d+ points and legend entries, 500+ px, axes labelled",
				id, lines, dots, legend, width, texts, servers, servers)
		}
	}
	light := eval(`getComputedStyle(document.body).backgroundColor`)
	media("dark")
	if dark := eval(`getComputedStyle(document.body).backgroundColor`); dark == light {
		t.Errorf("background %s in both light and dark mode", dark)
	}
	if stroke := eval(`getComputedStyle(document.querySelector("#rps polyline")).stroke`); stroke == "none" || stroke == "" {
		t.Errorf("dark mode: series stroke %q", stroke)
	}
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(srv.URL+"/")))
	if got := eval(`String(document.documentElement.scrollWidth)`); got != "390" {
		t.Errorf("at 390 px wide, the page is %s px wide", got)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	requests, console := w.requests, w.console
	for _, r := range requests {
		if !strings.HasPrefix(r, srv.URL+"/ (Document)") {
			t.Errorf("a request beyond the page: %s", r)
		}
	}
	for _, m := range console {
		t.Errorf("console: %s", m)
	}
}
