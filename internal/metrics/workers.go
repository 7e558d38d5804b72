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
	"google.golang.org/protobuf/proto"
)

// Prefork workers are separate processes: each serves its own counters
// over a unix socket in a directory its supervisor made (ServeWorker), and
// the supervisor's /metrics sums what every worker alive reports (Workers).
//
// Workers come and go (a reload replaces them all; a crashed one is
// restarted), and the sums must not fall when they go: a worker that stops
// gracefully leaves its final counts in a file beside its socket, and one
// whose socket stops answering without such a file (it crashed) leaves the
// counts of the last scrape. Either is added to the counters (and
// histograms, not the gauges) of the workers gone. Only what a crashed
// worker counted after the last scrape is lost.

// WorkerSocket is the name of the socket of the worker with process id
// pid in dir.
func WorkerSocket(dir string, pid int) string {
	return filepath.Join(dir, fmt.Sprintf("worker-%d.sock", pid))
}

// finalFile is where the worker with socket sock leaves its final counts.
func finalFile(sock string) string { return strings.TrimSuffix(sock, ".sock") + ".final" }

// ServeWorker serves g's exposition on a unix socket in dir until stop is
// called, once the worker serves no more: stop leaves g's final counts
// for the supervisor, then closes the socket (which removes it).
func ServeWorker(dir string, g prometheus.Gatherer) (stop func(), err error) {
	path := WorkerSocket(dir, os.Getpid())
	os.Remove(path) // a socket left by a process that had this id
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("weft: worker metrics: %w", err)
	}
	srv := &http.Server{Handler: Handler(g), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return func() {
		writeFinal(path, g)
		srv.Close()
	}, nil
}

// writeFinal writes g's exposition beside sock, whole or not at all.
func writeFinal(sock string, g prometheus.Gatherer) {
	fams, _ := g.Gather()
	tmp := finalFile(sock) + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return
	}
	for _, mf := range fams {
		if _, err = expfmt.MetricFamilyToText(f, mf); err != nil {
			break
		}
	}
	if cerr := f.Close(); err == nil && cerr == nil {
		err = os.Rename(tmp, finalFile(sock))
	}
	if err != nil {
		os.Remove(tmp)
	}
}

// Workers is a prometheus.Gatherer that scrapes every worker socket in
// its directory and sums the workers' series: counters, gauges and
// histograms with the same name and labels add up; to the counters and
// histograms it adds those of the workers gone.
type Workers struct {
	dir     string
	timeout time.Duration

	mu   sync.Mutex                              // one Gather at a time
	gone map[string]*dto.MetricFamily            // counters and histograms of the workers gone
	last map[string]map[string]*dto.MetricFamily // by socket: its last scrape
}

var _ prometheus.Gatherer = (*Workers)(nil)

// NewWorkers returns a Workers over the sockets in dir, scraped within
// timeout (5s when zero).
func NewWorkers(dir string, timeout time.Duration) *Workers {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Workers{dir: dir, timeout: timeout, gone: map[string]*dto.MetricFamily{}, last: map[string]map[string]*dto.MetricFamily{}}
}

// Gather implements prometheus.Gatherer. A socket nobody answers on (its
// worker died) is removed; other failures are reported with what the
// other workers said.
func (w *Workers) Gather() ([]*dto.MetricFamily, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Workers that stopped gracefully: their final counts, once.
	finals, _ := filepath.Glob(filepath.Join(w.dir, "worker-*.final"))
	for _, fin := range finals {
		sock := strings.TrimSuffix(fin, ".final") + ".sock"
		if f, err := os.Open(fin); err == nil {
			p := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := p.TextToMetricFamilies(f)
			f.Close()
			if err == nil {
				w.retire(fams)
			}
		}
		os.Remove(fin)
		os.Remove(sock) // if it is still there, it is about to go
		delete(w.last, sock)
	}
	socks, err := filepath.Glob(filepath.Join(w.dir, "worker-*.sock"))
	if err != nil {
		return nil, err
	}
	timeout := w.timeout
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
					// Crashed (or just gone, its final counts to be
					// read next time: then this is not reached).
					if _, ferr := os.Stat(finalFile(sock)); ferr != nil {
						w.retire(w.last[sock])
						delete(w.last, sock)
						os.Remove(sock)
					}
				} else {
					errs = append(errs, fmt.Errorf("weft: worker metrics %s: %w", filepath.Base(sock), err))
				}
				return
			}
			w.last[sock] = fams
			for name, f := range fams {
				add(sum, name, f)
			}
		}()
	}
	wg.Wait()
	for name, f := range w.gone {
		add(sum, name, f)
	}
	out := make([]*dto.MetricFamily, 0, len(sum))
	for _, f := range sum {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, errors.Join(errs...)
}

var errGone = errors.New("worker gone")

// add adds a copy of f to sum[name].
func add(sum map[string]*dto.MetricFamily, name string, f *dto.MetricFamily) {
	f = proto.Clone(f).(*dto.MetricFamily)
	if have, ok := sum[name]; ok {
		merge(have, f)
	} else {
		sum[name] = f
	}
}

// retire adds the counters and histograms of a worker gone to w.gone.
func (w *Workers) retire(fams map[string]*dto.MetricFamily) {
	for name, f := range fams {
		if t := f.GetType(); t == dto.MetricType_COUNTER || t == dto.MetricType_HISTOGRAM {
			add(w.gone, name, f)
		}
	}
}

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
