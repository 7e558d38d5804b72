package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

//go:embed report.html.tmpl plot.tmpl
var templates embed.FS

var page = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"f0":  func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) },
	"f1":  func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"g3":  func(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) },
	"mib": func(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) },
	"cpuPer": func(p Point) string {
		v := p.CPUPerRequest()
		if math.IsNaN(v) {
			return "-"
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	},
	"errs": func(p Point) string {
		if n := p.ErrorCount(); n > 0 {
			return fmt.Sprintf("%d (%s)", n, errorKinds(p.Errors))
		}
		return "0"
	},
}).ParseFS(templates, "report.html.tmpl", "plot.tmpl"))

// Chart geometry, in SVG user units (the viewBox; the page scales it).
const (
	chartW, chartH = 640, 340
	padL, padR     = 70, 16
	padT, padB     = 14, 52
	plotW, plotH   = chartW - padL - padR, chartH - padT - padB
)

type tick struct {
	Pos   float64
	Label string
}

type dot struct {
	X, Y float64
	Tip  string
}

type series struct {
	Name   string
	Class  string // s0..s7: colour and dash pattern
	Points string // polyline points
	Dots   []dot
}

type chart struct {
	ID, Title, Claim string
	XLabel, YLabel   string
	W, H             int
	PadL, PadT       int
	PlotW, PlotH     int
	XTicks, YTicks   []tick
	Series           []series
	Empty            string // why the chart has no data
	// For a standalone SVG file: the title's band, the legend drawn
	// under the plot, and the whole height.
	TitleH, FileH int
	Legend        []legendItem
}

type legendItem struct {
	X, Y        int
	Class, Name string
}

type pageData struct {
	Run       *Run
	Charts    []chart
	Workloads []string
	Servers   []string
}

// WriteHTML writes the report: one page with inline styles and SVG
// charts, no script and nothing fetched.
func WriteHTML(w io.Writer, r *Run) error {
	return page.Execute(w, pageData{Run: r, Servers: r.Servers(), Workloads: r.WorkloadNames(), Charts: r.charts()})
}

// WriteSVGs writes each chart that has data as a standalone SVG file in
// dir (rps.svg, p99.svg, rss.svg, cpu.svg, rps-WORKLOAD.svg), with its
// legend drawn in, and returns their names.
func WriteSVGs(dir string, r *Run) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var names []string
	for _, c := range r.charts() {
		if c.Empty != "" {
			continue
		}
		c.layoutLegend()
		var b bytes.Buffer
		if err := page.ExecuteTemplate(&b, "svgfile", c); err != nil {
			return names, err
		}
		name := filepath.Join(dir, c.ID+".svg")
		if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
			return names, err
		}
		names = append(names, name)
	}
	return names, nil
}

// layoutLegend places the legend under the plot, five entries a row.
func (c *chart) layoutLegend() {
	const perRow, colW, rowH = 5, 124, 22
	c.TitleH = 30
	for i, s := range c.Series {
		c.Legend = append(c.Legend, legendItem{X: 16 + (i%perRow)*colW, Y: chartH + 8 + (i/perRow)*rowH, Class: s.Class, Name: s.Name})
	}
	rows := (len(c.Series) + perRow - 1) / perRow
	c.FileH = c.TitleH + chartH + 8 + rows*rowH
}

func (r *Run) charts() []chart {
	var charts []chart
	charts = append(charts,
		r.lineChart("rps", "small", "Requests per second vs connections (1 KiB cached file)",
			"The tutorial's claim: I/O multiplexing with a worker pool (epoll) is how fast servers are built, while serving one client at a time (serial) or a thread per connection falls behind as connections grow. Higher is better.",
			"requests per second", false, func(p *Point) (float64, bool) { return p.RPS, true }),
		r.lineChart("p99", "small", "p99 latency vs connections (1 KiB cached file)",
			"The tutorial's claim: threads do not scale and a serial loop makes every client wait, so their slowest requests grow with the connection count; a flat, low line is a model that scales. Logarithmic scale; lower is better.",
			"p99 latency (ms)", true, func(p *Point) (float64, bool) { return p.P99, p.Requests > 0 }),
		r.lineChart("rss", "idle", "Server memory vs idle connections",
			"The tutorial's claim: processes cost memory, threads cost a stack each, coroutines and event loops are cheap. Resident memory of the server's process tree at the end of each point, while N idle connections are held open and 16 others load it. Lower and flatter is better.",
			"resident memory (MiB)", false, func(p *Point) (float64, bool) { return float64(p.RSSEnd) / (1 << 20), p.RSSEnd > 0 }),
		r.lineChart("cpu", "small", "Server CPU per request vs connections (1 KiB cached file)",
			"The cost of the concurrency model itself: user+system CPU of the server's processes per completed request. The tutorial's claim is that multiplexing spends less per request than switching between threads or processes. Lower is better.",
			"CPU per request (µs)", false, func(p *Point) (float64, bool) { v := p.CPUPerRequest(); return v, !math.IsNaN(v) }),
	)
	for _, wl := range r.WorkloadNames() {
		if wl == "small" {
			continue
		}
		charts = append(charts, r.lineChart("rps-"+wl, wl, "Requests per second vs connections ("+wl+" workload)",
			"The same comparison under the "+wl+" workload (see the list of workloads below). Higher is better.",
			"requests per second", false, func(p *Point) (float64, bool) { return p.RPS, true }))
	}
	return charts
}

// lineChart plots value over the connection count for every server under
// one workload; the x axis is logarithmic.
func (r *Run) lineChart(id, workload, title, claim, ylabel string, logY bool, value func(*Point) (float64, bool)) chart {
	c := chart{ID: id, Title: title, Claim: claim, XLabel: "connections (logarithmic)", YLabel: ylabel,
		W: chartW, H: chartH, PadL: padL, PadT: padT, PlotW: plotW, PlotH: plotH}
	if workload == "idle" {
		c.XLabel = "idle connections held open (logarithmic)"
	}
	var conns []int
	var ymin, ymax = math.Inf(1), 0.0
	for i := range r.Points {
		p := &r.Points[i]
		if v, ok := value(p); ok && p.Workload == workload && p.Failure == "" {
			if !slices.Contains(conns, p.Conns) {
				conns = append(conns, p.Conns)
			}
			ymax = max(ymax, v)
			if v > 0 {
				ymin = min(ymin, v)
			}
		}
	}
	if len(conns) == 0 {
		c.Empty = fmt.Sprintf("Not measured in this run: add the %q workload (--workload %s).", workload, workload)
		return c
	}
	slices.Sort(conns)
	x0, x1 := math.Log(float64(conns[0])), math.Log(float64(conns[len(conns)-1]))
	xpos := func(n int) float64 {
		if x1 == x0 {
			return float64(plotW) / 2
		}
		return (math.Log(float64(n)) - x0) / (x1 - x0) * plotW
	}
	for _, n := range conns {
		c.XTicks = append(c.XTicks, tick{xpos(n), strconv.Itoa(n)})
	}
	var ypos func(v float64) float64
	if logY {
		lo := math.Pow(10, math.Floor(math.Log10(ymin)))
		hi := math.Pow(10, math.Ceil(math.Log10(ymax)))
		if hi <= lo {
			hi = lo * 10
		}
		ypos = func(v float64) float64 {
			v = max(v, lo)
			return plotH - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*plotH
		}
		for v := lo; v <= hi*1.001; v *= 10 {
			c.YTicks = append(c.YTicks, tick{ypos(v), strconv.FormatFloat(v, 'g', -1, 64)})
		}
	} else {
		step := niceStep(ymax / 5)
		top := math.Ceil(ymax/step) * step
		if top == 0 {
			top, step = 1, 0.2
		}
		ypos = func(v float64) float64 { return plotH - v/top*plotH }
		for v := 0.0; v <= top*1.0001; v += step {
			c.YTicks = append(c.YTicks, tick{ypos(v), strconv.FormatFloat(v, 'f', -1, 64)})
		}
	}
	for si, s := range r.Servers() {
		se := series{Name: s, Class: fmt.Sprintf("s%d", si%8)}
		var pts []string
		for i := range r.Points {
			p := &r.Points[i]
			if p.Server != s || p.Workload != workload || p.Failure != "" {
				continue
			}
			v, ok := value(p)
			if !ok {
				continue
			}
			x, y := xpos(p.Conns), ypos(v)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			se.Dots = append(se.Dots, dot{X: x, Y: y, Tip: fmt.Sprintf("%s, %d connections: %s %s", s, p.Conns, strconv.FormatFloat(v, 'g', 4, 64), ylabel)})
		}
		se.Points = strings.Join(pts, " ")
		if len(se.Dots) > 0 {
			c.Series = append(c.Series, se)
		}
	}
	return c
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
