package metrics

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/weft-server/weft/internal/http1"
)

func TestLogLabels(t *testing.T) {
	for _, tc := range []struct {
		name        string
		rec         http1.Record
		proto, meth string
		class       string
		bucket      int
		body        uint64
	}{
		{"get 200", http1.Record{Method: []byte("GET"), Major: 1, Minor: 1, Status: 200, Bytes: 10, Duration: 50 * time.Microsecond}, "1.1", "GET", "2xx", 0, 10},
		{"head 1.0", http1.Record{Method: []byte("HEAD"), Major: 1, Minor: 0, Status: 304, Duration: 100 * time.Microsecond}, "1.0", "HEAD", "3xx", 0, 0},
		{"h2 patch", http1.Record{Method: []byte("PATCH"), Major: 2, Status: 405, Duration: 101 * time.Microsecond}, "2", "PATCH", "4xx", 1, 0},
		{"h3 brew", http1.Record{Method: []byte("BREW"), Major: 3, Status: 501, Duration: time.Minute}, "3", "other", "5xx", NBucket, 0},
		{"unparsed", http1.Record{Status: 400}, "1.1", "other", "4xx", 0, 0},
		{"continue", http1.Record{Method: []byte("OPTIONS"), Major: 1, Minor: 1, Status: 100}, "1.1", "OPTIONS", "1xx", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New()
			c.Shard(0).Log(&tc.rec)
			sn := c.Snapshot()
			var got []string
			for p := range sn.Requests {
				for m := range sn.Requests[p] {
					for k, n := range sn.Requests[p][m] {
						if n != 0 {
							got = append(got, Protos[p]+" "+Methods[m]+" "+Classes[k])
						}
					}
				}
			}
			if want := tc.proto + " " + tc.meth + " " + tc.class; len(got) != 1 || got[0] != want {
				t.Errorf("counted %v, want [%s]", got, want)
			}
			if sn.Buckets[tc.bucket] != 1 {
				t.Errorf("buckets %v, want 1 in bucket %d", sn.Buckets, tc.bucket)
			}
			var body uint64
			for _, b := range sn.Body {
				body += b
			}
			if body != tc.body || sn.DurSum != tc.rec.Duration {
				t.Errorf("body %d, duration sum %v; want %d, %v", body, sn.DurSum, tc.body, tc.rec.Duration)
			}
		})
	}
}

// TestCountingAllocatesNothing: the hot path's counting, in every
// method a connection calls.
func TestCountingAllocatesNothing(t *testing.T) {
	c := New()
	rec := http1.Record{Method: []byte("GET"), Major: 1, Minor: 1, Status: 200, Bytes: 1024, Duration: time.Millisecond}
	allocs := testing.AllocsPerRun(1000, func() {
		s := c.Shard(-1)
		s.Opened()
		s.Idle(true)
		s.Idle(false)
		s.Log(&rec)
		s.SentFile(100)
		s.Closed()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per connection, want 0", allocs)
	}
	sn := c.Snapshot()
	if sn.Open() != 0 || sn.Idle != 0 || sn.Opened != 1001 || sn.Sendfile != 100100 {
		t.Errorf("open %d, idle %d, accepted %d, sendfile %d", sn.Open(), sn.Idle, sn.Opened, sn.Sendfile)
	}
}

// TestLoopsOwnTheirShards: loops 0..n-1 get n distinct shards; loopless
// connections are dealt all of them.
func TestLoopsOwnTheirShards(t *testing.T) {
	c := New()
	seen := map[*Shard]bool{}
	for i := range len(c.shards) {
		seen[c.Shard(i)] = true
	}
	if len(seen) != len(c.shards) {
		t.Errorf("%d loops share %d shards", len(c.shards), len(seen))
	}
	dealt := map[*Shard]bool{}
	for range len(c.shards) {
		dealt[c.Shard(-1)] = true
	}
	if len(dealt) != len(c.shards) {
		t.Errorf("loopless connections dealt %d of %d shards", len(dealt), len(c.shards))
	}
}

func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	f, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestMergeSums: two workers' expositions add up, series by series.
func TestMergeSums(t *testing.T) {
	a := parse(t, `# TYPE r counter
r{code="2xx"} 3
r{code="4xx"} 1
# TYPE g gauge
g 2
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="+Inf"} 2
h_sum 0.5
h_count 2
`)
	b := parse(t, `# TYPE r counter
r{code="2xx"} 4
r{code="5xx"} 7
# TYPE g gauge
g 5
# TYPE h histogram
h_bucket{le="0.1"} 2
h_bucket{le="+Inf"} 3
h_sum 1
h_count 3
`)
	for name, f := range b {
		merge(a[name], f)
	}
	got := map[string]float64{}
	for _, m := range a["r"].Metric {
		got[m.Label[0].GetValue()] = m.Counter.GetValue()
	}
	if got["2xx"] != 7 || got["4xx"] != 1 || got["5xx"] != 7 || len(got) != 3 {
		t.Errorf("counters: %v", got)
	}
	if v := a["g"].Metric[0].Gauge.GetValue(); v != 7 {
		t.Errorf("gauge: %v", v)
	}
	h := a["h"].Metric[0].Histogram
	if h.GetSampleCount() != 5 || h.GetSampleSum() != 1.5 || h.Bucket[0].GetCumulativeCount() != 3 {
		t.Errorf("histogram: %v", h)
	}
}

// BenchmarkCountRequest is what counting adds to one kept-alive request
// on an event loop: its record, and the connection leaving and
// rejoining the idle ones.
func BenchmarkCountRequest(b *testing.B) {
	s := New().Shard(0)
	rec := http1.Record{Method: []byte("GET"), Major: 1, Minor: 1, Status: 200, Bytes: 1024, Duration: 300 * time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		s.Idle(false)
		s.Log(&rec)
		s.Idle(true)
	}
}
