//go:build linux

package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// spread is the smallest, median and largest of a set of figures.
type spread struct{ min, med, max float64 }

// summarize returns the spread of xs; the median of an even count is the
// mean of the two middle figures. It returns NaNs for none.
func summarize(xs []float64) spread {
	if len(xs) == 0 {
		return spread{math.NaN(), math.NaN(), math.NaN()}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return spread{s[0], med, s[n-1]}
}

// format prints the median with the range after it, "135057 (128000–137015)",
// with prec decimals; "n/a" when there is no figure (NaN: h2load has no p99).
func (s spread) format(prec int) string {
	if math.IsNaN(s.med) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f (%.*f–%.*f)", prec, s.med, prec, s.min, prec, s.max)
}

// field returns one figure of every run.
func field(rs []*result, f func(*result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// pooled sums the runs of one server in one case.
type pooled struct {
	requests float64 // requests completed
	cpu      float64 // server CPU seconds
	wrkCPU   float64 // wrk CPU seconds
}

func pool(rs []*result) pooled {
	var p pooled
	for _, r := range rs {
		p.requests += r.requests
		p.cpu += r.cpu
		p.wrkCPU += r.wrkCPU
	}
	return p
}

// perCPUSecond is the pooled efficiency: all the runs' requests over all
// their server CPU seconds (not the mean or median of per-run ratios, which
// would weigh a short-CPU run as much as a long one).
func (p pooled) perCPUSecond() float64 {
	if p.cpu <= 0 {
		return math.NaN()
	}
	return p.requests / p.cpu
}

// bothMicros is server and wrk CPU together per request, in µs, pooled.
func (p pooled) bothMicros() float64 {
	if p.requests <= 0 {
		return math.NaN()
	}
	return (p.cpu + p.wrkCPU) / p.requests * 1e6
}

// ratio formats a/b as "1.23×", or "" when either is missing.
func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// disturbed is the share of one core that other processes (or the
// hypervisor) may take from the server's and wrk's cores during a run
// before the run is noted as disturbed.
const disturbed = 0.2

// disturbed reports whether other processes took more than the
// disturbed share of a core from the server's and wrk's during the run.
func (r *result) disturbed() bool { return r.wall > 0 && r.others/r.wall > disturbed }

// notes gathers a server's per-run remarks: how many runs saturated wrk's
// core (over 90% busy), how many were disturbed (others took over a fifth
// of a core from the server's and wrk's), and every distinct wrk error
// line.
func notes(rs []*result) string {
	var out []string
	sat, busiest := 0, 0.0
	dist, most := 0, 0.0
	seen := map[string]bool{}
	var errs []string
	for _, r := range rs {
		if r.wrkBusy > 0.9 {
			sat++
		}
		busiest = math.Max(busiest, r.wrkBusy)
		if r.disturbed() {
			dist++
			most = math.Max(most, r.others/r.wall)
		}
		if r.errors != "" && !seen[r.errors] {
			seen[r.errors] = true
			errs = append(errs, r.errors)
		}
	}
	out = append(out, errs...)
	var sessions []string
	for _, r := range rs {
		if r.tls != "" && !slices.Contains(sessions, r.tls) {
			sessions = append(sessions, r.tls)
		}
	}
	out = append(out, sessions...)
	if sat > 0 {
		out = append(out, fmt.Sprintf("wrk core saturated in %d/%d runs (up to %.0f%%)", sat, len(rs), 100*busiest))
	}
	if dist > 0 {
		out = append(out, fmt.Sprintf("other processes busy on these cores in %d/%d runs (up to %.0f%% of a core)", dist, len(rs), 100*most))
	}
	return strings.Join(out, "; ")
}

// slope fits y = a + b·x by least squares and returns b (NaN for fewer
// than two distinct x).
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return math.NaN()
	}
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	if sxx == 0 {
		return math.NaN()
	}
	return sxy / sxx
}

// idleCounts returns the connection counts at which idle memory is taken:
// 0, a quarter, a half and all of n.
func idleCounts(n int) []int {
	if n <= 0 {
		return nil
	}
	out := []int{0}
	for _, c := range []int{n / 4, n / 2, n} {
		if c > out[len(out)-1] {
			out = append(out, c)
		}
	}
	return out
}
