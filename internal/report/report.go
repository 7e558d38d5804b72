// Package report holds the figures of a `weft bench` run and writes them:
// a Markdown table, CSV, JSON, a self-contained HTML page with SVG charts,
// and the point-by-point ratio of two runs. It does no measuring.
package report

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Run is one sweep: its settings and every point measured.
type Run struct {
	Date       time.Time  `json:"date"`
	Version    string     `json:"version"`     // weft's
	CPUs       int        `json:"cpus"`        // online CPUs of the machine
	ClientCPUs string     `json:"client_cpus"` // pinned cores ("" when not pinned)
	ServerCPUs string     `json:"server_cpus"`
	Duration   float64    `json:"duration_s"` // window per point
	Warmup     float64    `json:"warmup_s"`   // the longest unmeasured load before each window
	Rate       float64    `json:"rate"`       // open-loop arrival rate (0: closed loop)
	Workloads  []Workload `json:"workloads"`  // the workloads measured, described
	Points     []Point    `json:"points"`
}

// Workload names and describes one workload.
type Workload struct {
	Name string `json:"name"`
	Desc string `json:"desc"`
}

// Point is one server under one workload at one connection count.
type Point struct {
	Server      string           `json:"server"`   // engine name or --label
	Workload    string           `json:"workload"` // see Workloads
	Conns       int              `json:"conns"`    // loading connections, or idle ones for "idle"
	Served      int              `json:"served"`   // loading connections that completed a request
	Requests    int64            `json:"requests"`
	RPS         float64          `json:"rps"`
	MBps        float64          `json:"mb_per_s"` // body bytes, 10^6 per second
	P50         float64          `json:"p50_ms"`
	P90         float64          `json:"p90_ms"`
	P99         float64          `json:"p99_ms"`
	P999        float64          `json:"p999_ms"`
	Max         float64          `json:"max_ms"`
	Errors      map[string]int64 `json:"errors,omitempty"`
	ServerCPU   float64          `json:"server_cpu_s"` // user+system of the server's process tree; -1 unknown
	RSSPeak     int64            `json:"rss_peak_bytes"`
	RSSEnd      int64            `json:"rss_end_bytes"`
	Threads     int              `json:"threads"`
	ClientCPU   float64          `json:"client_cpu_s"`
	ClientBound bool             `json:"client_bound"` // the client's cores were busy: the figure is a floor
	IdleHeld    int              `json:"idle_held,omitempty"`
	Failure     string           `json:"failure,omitempty"` // why the point has no figures
}

// ErrorCount is the sum of p.Errors.
func (p *Point) ErrorCount() int64 {
	var n int64
	for _, v := range p.Errors {
		n += v
	}
	return n
}

// CPUPerRequest is the server's CPU microseconds per completed request
// (NaN when unknown).
func (p *Point) CPUPerRequest() float64 {
	if p.ServerCPU < 0 || p.Requests == 0 {
		return math.NaN()
	}
	return p.ServerCPU / float64(p.Requests) * 1e6
}

// Key identifies a point across runs.
func (p *Point) Key() string { return fmt.Sprintf("%s/%s/%d", p.Server, p.Workload, p.Conns) }

// Servers lists the servers in the order they first appear.
func (r *Run) Servers() []string { return uniq(r.Points, func(p *Point) string { return p.Server }) }

// WorkloadNames lists the workloads in the order they first appear.
func (r *Run) WorkloadNames() []string {
	return uniq(r.Points, func(p *Point) string { return p.Workload })
}

func uniq(ps []Point, f func(*Point) string) []string {
	var out []string
	for i := range ps {
		if s := f(&ps[i]); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// WriteJSON writes r, indented.
func (r *Run) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// ReadJSON reads a run written by WriteJSON.
func ReadJSON(name string) (*Run, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("weft: bench: %s: %w", name, err)
	}
	if len(r.Points) == 0 {
		return nil, fmt.Errorf("weft: bench: %s: no points (not a weft bench --json file?)", name)
	}
	return &r, nil
}

var csvHeader = []string{"server", "workload", "conns", "served", "requests", "rps", "mb_per_s",
	"p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "errors", "error_kinds",
	"server_cpu_s", "cpu_us_per_req", "rss_peak_bytes", "rss_end_bytes", "threads",
	"client_cpu_s", "client_bound", "idle_held", "failure"}

// WriteCSV writes one row per point with every figure.
func (r *Run) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	for _, p := range r.Points {
		cw.Write([]string{p.Server, p.Workload, strconv.Itoa(p.Conns), strconv.Itoa(p.Served), strconv.FormatInt(p.Requests, 10),
			ff(p.RPS), ff(p.MBps), ff(p.P50), ff(p.P90), ff(p.P99), ff(p.P999), ff(p.Max),
			strconv.FormatInt(p.ErrorCount(), 10), errorKinds(p.Errors),
			ff(p.ServerCPU), ff(p.CPUPerRequest()), strconv.FormatInt(p.RSSPeak, 10), strconv.FormatInt(p.RSSEnd, 10),
			strconv.Itoa(p.Threads), ff(p.ClientCPU), strconv.FormatBool(p.ClientBound), strconv.Itoa(p.IdleHeld), p.Failure})
	}
	cw.Flush()
	return cw.Error()
}

func ff(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// errorKinds renders errors as "closed=3 reset=1", sorted by kind.
func errorKinds(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}

// TableHeader is the Markdown table's head; WriteRow writes its rows one
// at a time, so a sweep can print each point as it finishes.
const TableHeader = "| server | workload | conns | served | req/s | MB/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | server CPU s | CPU µs/req | RSS peak MiB | RSS end MiB | threads | client CPU s |\n" +
	"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n"

// WriteRow writes p as one row of the Markdown table.
func WriteRow(w io.Writer, p *Point) error {
	if p.Failure != "" {
		_, err := fmt.Fprintf(w, "| %s | %s | %d | failed: %s ||||||||||||||\n", p.Server, p.Workload, p.Conns, strings.ReplaceAll(p.Failure, "|", "/"))
		return err
	}
	errs := "0"
	if n := p.ErrorCount(); n > 0 {
		errs = fmt.Sprintf("%d (%s)", n, errorKinds(p.Errors))
	}
	client := fmt.Sprintf("%.2f", p.ClientCPU)
	if p.ClientBound {
		client += " (client-bound)"
	}
	cpu, per := "-", "-"
	if p.ServerCPU >= 0 {
		cpu = fmt.Sprintf("%.2f", p.ServerCPU)
		if v := p.CPUPerRequest(); !math.IsNaN(v) {
			per = fmt.Sprintf("%.1f", v)
		}
	}
	mib := func(b int64) string {
		if b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(b)/(1<<20))
	}
	threads := "-"
	if p.Threads > 0 {
		threads = strconv.Itoa(p.Threads)
	}
	_, err := fmt.Fprintf(w, "| %s | %s | %d | %d | %.0f | %.1f | %.3g | %.3g | %.3g | %.3g | %.3g | %s | %s | %s | %s | %s | %s | %s |\n",
		p.Server, p.Workload, p.Conns, p.Served, p.RPS, p.MBps, p.P50, p.P90, p.P99, p.P999, p.Max, errs, cpu, per,
		mib(p.RSSPeak), mib(p.RSSEnd), threads, client)
	return err
}

// WriteMarkdown writes the whole table.
func (r *Run) WriteMarkdown(w io.Writer) error {
	if _, err := io.WriteString(w, TableHeader); err != nil {
		return err
	}
	for i := range r.Points {
		if err := WriteRow(w, &r.Points[i]); err != nil {
			return err
		}
	}
	return nil
}

// Compare writes, for every point present in both runs, B's figures over
// A's: req/s, p99 latency, server CPU per request, and RSS at the end.
func Compare(w io.Writer, a, b *Run, nameA, nameB string) error {
	byKey := map[string]*Point{}
	for i := range a.Points {
		byKey[a.Points[i].Key()] = &a.Points[i]
	}
	fmt.Fprintf(w, "B/A ratios (A = %s, B = %s); req/s above 1 is faster, the others below 1 are better\n\n", nameA, nameB)
	fmt.Fprintln(w, "| server | workload | conns | req/s A | req/s B | req/s B/A | p99 B/A | CPU/req B/A | RSS end B/A | errors A → B |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
	n := 0
	for i := range b.Points {
		pb := &b.Points[i]
		pa := byKey[pb.Key()]
		if pa == nil {
			continue
		}
		n++
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.0f | %s | %s | %s | %s | %d → %d |\n", pb.Server, pb.Workload, pb.Conns,
			pa.RPS, pb.RPS, ratio(pb.RPS, pa.RPS), ratio(pb.P99, pa.P99), ratio(pb.CPUPerRequest(), pa.CPUPerRequest()),
			ratio(float64(pb.RSSEnd), float64(pa.RSSEnd)), pa.ErrorCount(), pb.ErrorCount())
	}
	if n == 0 {
		return errors.New("weft: bench compare: the two runs have no point in common (server, workload and conns)")
	}
	return nil
}

func ratio(b, a float64) string {
	if a <= 0 || b < 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "-"
	}
	return fmt.Sprintf("%.2f", b/a)
}
