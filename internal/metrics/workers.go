package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Prefork workers are separate processes: each serves its own counters
// over a unix socket in a directory its supervisor made (ServeWorker), and
// the supervisor's /metrics sums what every worker alive reports (Workers).
// Counters of a worker that died go with it: the sum then drops, which
// Prometheus reads as a counter reset (rate and increase allow for it).

// WorkerSocket is the name of the socket of the worker with process id
// pid in dir.
func WorkerSocket(dir string, pid int) string {
	return filepath.Join(dir, fmt.Sprintf("worker-%d.sock", pid))
}

// ServeWorker serves g's exposition on a unix socket in dir until stop is
// called, which also removes the socket.
func ServeWorker(dir string, g prometheus.Gatherer) (stop func(), err error) {
	path := WorkerSocket(dir, os.Getpid())
	os.Remove(path) // a socket left by a process that had this id
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("weft: worker metrics: %w", err)
	}
	srv := &http.Server{Handler: Handler(g), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

// Workers is a prometheus.Gatherer that scrapes every worker socket in
// Dir and sums the workers' series: counters, gauges and histograms with
// the same name and labels add up.
type Workers struct {
	Dir     string
	Timeout time.Duration // per scrape of the workers; 5s when zero
}

var _ prometheus.Gatherer = Workers{}

// Gather implements prometheus.Gatherer. A socket nobody answers on (its
// worker died) is removed; other failures are reported with what the
// other workers said.
func (w Workers) Gather() ([]*dto.MetricFamily, error) {
	socks, err := filepath.Glob(filepath.Join(w.Dir, "worker-*.sock"))
	if err != nil {
		return nil, err
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var (
		mu   sync.Mutex
		sum  = map[string]*dto.MetricFamily{}
		errs []error
		wg   sync.WaitGroup
	)
	for _, sock := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fams, err := scrapeSocket(ctx, sock)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if errors.Is(err, errGone) {
					os.Remove(sock)
				} else {
					errs = append(errs, fmt.Errorf("weft: worker metrics %s: %w", filepath.Base(sock), err))
				}
				return
			}
			for name, f := range fams {
				if have, ok := sum[name]; ok {
					merge(have, f)
				} else {
					sum[name] = f
				}
			}
		}()
	}
	wg.Wait()
	out := make([]*dto.MetricFamily, 0, len(sum))
	for _, f := range sum {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, errors.Join(errs...)
}

var errGone = errors.New("worker gone")

func scrapeSocket(ctx context.Context, sock string) (map[string]*dto.MetricFamily, error) {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", sock)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errGone, err)
		}
		return c, nil
	}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://worker/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// merge adds src's series to dst's, of the same family.
func merge(dst, src *dto.MetricFamily) {
	index := make(map[string]*dto.Metric, len(dst.Metric))
	for _, m := range dst.Metric {
		index[labelKey(m)] = m
	}
	for _, m := range src.Metric {
		have, ok := index[labelKey(m)]
		if !ok {
			dst.Metric = append(dst.Metric, m)
			index[labelKey(m)] = m
			continue
		}
		switch {
		case have.Counter != nil && m.Counter != nil:
			have.Counter.Value = ptr(have.Counter.GetValue() + m.Counter.GetValue())
		case have.Gauge != nil && m.Gauge != nil:
			have.Gauge.Value = ptr(have.Gauge.GetValue() + m.Gauge.GetValue())
		case have.Untyped != nil && m.Untyped != nil:
			have.Untyped.Value = ptr(have.Untyped.GetValue() + m.Untyped.GetValue())
		case have.Histogram != nil && m.Histogram != nil:
			h, o := have.Histogram, m.Histogram
			n := h.GetSampleCount() + o.GetSampleCount()
			s := h.GetSampleSum() + o.GetSampleSum()
			h.SampleCount, h.SampleSum = &n, &s
			for _, ob := range o.Bucket {
				for _, hb := range h.Bucket {
					if hb.GetUpperBound() == ob.GetUpperBound() {
						c := hb.GetCumulativeCount() + ob.GetCumulativeCount()
						hb.CumulativeCount = &c
					}
				}
			}
		}
	}
}

func labelKey(m *dto.Metric) string {
	var b strings.Builder
	for _, l := range m.Label { // sorted by the parser
		b.WriteString(l.GetName())
		b.WriteByte(0)
		b.WriteString(l.GetValue())
		b.WriteByte(0)
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }
