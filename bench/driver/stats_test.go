//go:build linux

package main

import (
	"math"
	"slices"
	"testing"
)

func TestSummarize(t *testing.T) {
	cases := []struct {
		in   []float64
		want spread
	}{
		{[]float64{5}, spread{5, 5, 5}},
		{[]float64{3, 1, 2}, spread{1, 2, 3}},
		{[]float64{4, 1, 3, 2}, spread{1, 2.5, 4}},
		{[]float64{10, 50, 20, 40, 30}, spread{10, 30, 50}},
		{[]float64{7, 7, 1, 7, 7}, spread{1, 7, 7}},
	}
	for _, c := range cases {
		in := slices.Clone(c.in)
		if got := summarize(c.in); got != c.want {
			t.Errorf("summarize(%v) = %+v, want %+v", c.in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("summarize reordered its input: %v", c.in)
		}
	}
	if s := summarize(nil); !math.IsNaN(s.med) {
		t.Errorf("summarize(nil) = %+v, want NaNs", s)
	}
}

func TestSpreadFormat(t *testing.T) {
	if got, want := (spread{1.234, 2.5, 30}).format(1), "2.5 (1.2–30.0)"; got != want {
		t.Errorf("format = %q, want %q", got, want)
	}
	if got, want := (spread{128000, 135057.4, 137015}).format(0), "135057 (128000–137015)"; got != want {
		t.Errorf("format = %q, want %q", got, want)
	}
}

// TestPooledEfficiency: efficiency is Σ requests / Σ CPU seconds over the
// runs, not the efficiency of the run with the median req/s, nor the mean
// of the runs' ratios.
func TestPooledEfficiency(t *testing.T) {
	cases := []struct {
		name       string
		runs       []*result
		perCPU     float64
		bothMicros float64
	}{
		{
			name:       "one run",
			runs:       []*result{{requests: 400000, cpu: 4, wrkCPU: 4}},
			perCPU:     100000,
			bothMicros: 20,
		},
		{
			// Median run by req/s is the 300,000 one (100,000/CPU-s);
			// the mean of ratios is (50,000+100,000+200,000)/3.
			name: "pooled, not median run or mean of ratios",
			runs: []*result{
				{requests: 100000, cpu: 2, wrkCPU: 1},
				{requests: 300000, cpu: 3, wrkCPU: 1},
				{requests: 400000, cpu: 2, wrkCPU: 2},
			},
			perCPU:     800000.0 / 7,
			bothMicros: 11.0 / 800000 * 1e6,
		},
		{
			name:       "no CPU recorded",
			runs:       []*result{{requests: 10}},
			perCPU:     math.NaN(),
			bothMicros: 0,
		},
		{
			name:       "no runs",
			perCPU:     math.NaN(),
			bothMicros: math.NaN(),
		},
	}
	same := func(a, b float64) bool {
		return math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
	}
	for _, c := range cases {
		p := pool(c.runs)
		if got := p.perCPUSecond(); !same(got, c.perCPU) {
			t.Errorf("%s: perCPUSecond = %v, want %v", c.name, got, c.perCPU)
		}
		if got := p.bothMicros(); !same(got, c.bothMicros) {
			t.Errorf("%s: bothMicros = %v, want %v", c.name, got, c.bothMicros)
		}
	}
}

func TestRatio(t *testing.T) {
	cases := []struct {
		a, b float64
		want string
	}{
		{150, 100, "1.50×"},
		{1, 3, "0.33×"},
		{1, 0, ""},
		{math.NaN(), 1, ""},
		{1, math.NaN(), ""},
	}
	for _, c := range cases {
		if got := ratio(c.a, c.b); got != c.want {
			t.Errorf("ratio(%v, %v) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

func TestNotes(t *testing.T) {
	cases := []struct {
		name string
		runs []*result
		want string
	}{
		{"quiet", []*result{{wrkBusy: 0.5}, {wrkBusy: 0.8}}, ""},
		{"saturated twice", []*result{{wrkBusy: 0.95}, {wrkBusy: 0.5}, {wrkBusy: 0.99}}, "wrk core saturated in 2/3 runs (up to 99%)"},
		{"errors once each", []*result{
			{errors: "Socket errors: connect 0, read 1, write 0, timeout 0"},
			{errors: "Socket errors: connect 0, read 1, write 0, timeout 0"},
			{errors: "Non-2xx or 3xx responses: 3", wrkBusy: 0.91},
		}, "Socket errors: connect 0, read 1, write 0, timeout 0; Non-2xx or 3xx responses: 3; wrk core saturated in 1/3 runs (up to 91%)"},
		{"disturbed", []*result{{wall: 4, others: 0.4}, {wall: 4, others: 2.6}, {wall: 4, others: 1}, {others: 1}},
			"other processes busy on these cores in 2/4 runs (up to 65% of a core)"},
	}
	for _, c := range cases {
		if got := notes(c.runs); got != c.want {
			t.Errorf("%s: notes = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSlope(t *testing.T) {
	cases := []struct {
		name   string
		xs, ys []float64
		want   float64
	}{
		{"exact line", []float64{0, 2500, 5000, 10000}, []float64{1e6, 1e6 + 2500*400, 1e6 + 5000*400, 1e6 + 10000*400}, 400},
		{"noisy", []float64{0, 1, 2, 3}, []float64{0, 1.1, 1.9, 3}, 0.98},
		{"flat", []float64{0, 1, 2}, []float64{5, 5, 5}, 0},
		{"one point", []float64{1}, []float64{1}, math.NaN()},
		{"same x", []float64{2, 2}, []float64{1, 3}, math.NaN()},
		{"mismatched", []float64{1, 2}, []float64{1}, math.NaN()},
	}
	for _, c := range cases {
		got := slope(c.xs, c.ys)
		if math.IsNaN(c.want) != math.IsNaN(got) || !math.IsNaN(got) && math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: slope = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestIdleCounts(t *testing.T) {
	cases := []struct {
		n    int
		want []int
	}{
		{0, nil},
		{-1, nil},
		{1, []int{0, 1}},
		{3, []int{0, 1, 3}},
		{10000, []int{0, 2500, 5000, 10000}},
	}
	for _, c := range cases {
		if got := idleCounts(c.n); !slices.Equal(got, c.want) {
			t.Errorf("idleCounts(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}

func TestParseWrk(t *testing.T) {
	out := `Running 4s test @ http://127.0.0.1:18401/index.html
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   474.12us  150.20us   5.06ms   83.67%
    Req/Sec   135.21k     3.11k  140.09k    80.00%
  Latency Distribution
     50%  455.00us
     75%  530.00us
     90%  612.00us
     99%    1.21ms
  540013 requests in 4.00s, 644.73MB read
  Socket errors: connect 0, read 2, write 0, timeout 0
Requests/sec: 135003.25
Transfer/sec:    161.18MB
`
	r := parseWrk(out)
	if r.requests != 540013 || r.rps != 135003.25 || r.mbps != 161.18 || r.p99ms != 1.21 {
		t.Errorf("parseWrk = %+v", r)
	}
	if r.errors != "Socket errors: connect 0, read 2, write 0, timeout 0" {
		t.Errorf("errors = %q", r.errors)
	}
	if r := parseWrk("Requests/sec: 10.5\n"); r.requests != 0 || r.rps != 10.5 {
		t.Errorf("without a requests line: %+v", r)
	}
}

func TestParseHeapAlloc(t *testing.T) {
	text := "heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 123456\n# TotalAlloc = 999\n# Sys = 1\n# HeapAlloc = 123456\n# HeapSys = 7\n"
	if got, ok := parseHeapAlloc(text); !ok || got != 123456 {
		t.Errorf("parseHeapAlloc = %v, %v", got, ok)
	}
	if _, ok := parseHeapAlloc("no stats"); ok {
		t.Error("parseHeapAlloc found a figure in text without one")
	}
}

func TestParseCoresBusy(t *testing.T) {
	stat := `cpu  454983 0 401590 1018332 4743 0 116403 1923 0 0
cpu0 233000 0 186764 519887 1079 0 58211 956 0 0
cpu1 221983 0 214826 498445 3664 0 58192 967 0 0
intr 1234 0 0
`
	// user+nice+system+irq+softirq+steal: cpu0 478931, cpu1 495968.
	if got, want := parseCoresBusy(stat, "cpu0", "cpu1"), 9748.99; math.Abs(got-want) > 1e-6 {
		t.Errorf("both cores: %v, want %v", got, want)
	}
	if got, want := parseCoresBusy(stat, "cpu1"), 4959.68; math.Abs(got-want) > 1e-6 {
		t.Errorf("cpu1: %v, want %v", got, want)
	}
}
