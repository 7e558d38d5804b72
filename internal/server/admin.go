package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/engine/process"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/metrics"
	"github.com/weft-server/weft/internal/site"
)

// The admin listener (--admin) serves the operator, never the site:
//
//	/metrics        Prometheus text exposition (package metrics)
//	/healthz        200 "ok" while the process runs
//	/readyz         200 "ready" when listening, every root is a readable
//	                folder and no certificate served has expired; else 503
//	                and the reasons, one a line
//	/debug/pprof/   the runtime profiles, when --pprof is on too
//
// Under the process engine the supervisor serves it, and its /metrics sums
// the workers': each worker serves its own counters on a unix socket in a
// private directory (metrics.ServeWorker), which the supervisor scrapes at
// each scrape of its own (metrics.Workers). Worker restarts are counted by
// the supervisor, which sees them.

// observed is what the admin listener reads from a running server.
type observed struct {
	ready atomic.Bool // listening and serving
	sw    *siteSwitch
	sec   *atomic.Pointer[secure]
	cache cacheTotals
}

// cacheTotals keeps the cache counters rising across reloads: the
// counters of a site that a reload replaced are added to a base.
type cacheTotals struct {
	mu   sync.Mutex
	last handler
	base site.CacheStats
}

func (ct *cacheTotals) read(cur handler) metrics.Cache {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if ct.last != nil && ct.last != cur {
		old := ct.last.Stats()
		ct.base.Hits += old.Hits
		ct.base.Misses += old.Misses
		ct.base.Evictions += old.Evictions
		ct.base.Variants += old.Variants
	}
	ct.last = cur
	st := cur.Stats()
	return metrics.Cache{
		Entries: st.Entries, Bytes: st.Bytes, Open: st.Open,
		Hits: ct.base.Hits + st.Hits, Misses: ct.base.Misses + st.Misses,
		Evictions: ct.base.Evictions + st.Evictions, Variants: ct.base.Variants + st.Variants,
	}
}

// meters is the engine configuration's Meters over c.
func meters(c *metrics.Counters) func(loop int) h1conn.Meter {
	return func(loop int) h1conn.Meter { return c.Shard(loop) }
}

// meterSink counts the requests that the HTTP/2 and HTTP/3 adapter
// answers, on a shard chosen by the client's port: connections spread over
// the shards without a shared counter to pick one. (The adapter's own
// connections are net/http's: they are not counted.)
type meterSink struct{ meters func(loop int) h1conn.Meter }

func (m meterSink) Log(rec *http1.Record) { m.meters(int(rec.Remote.Port())).Log(rec) }

// teeSink logs to both.
type teeSink struct{ a, b h1conn.RecordSink }

func (t teeSink) Log(rec *http1.Record) {
	t.a.Log(rec)
	t.b.Log(rec)
}

// setupMetrics prepares counting for the admin listener. In-process
// engines count on counters (returned); the process engine's supervisor
// counts worker restarts and gives its workers a directory to serve
// theirs in (returned, for the admin listener to sum; removed by done); a
// worker serves its counters there. gather is what /metrics exposes (nil
// in a worker).
func setupMetrics(engName string, worker bool, ob *observed, eng *process.Engine) (counters *metrics.Counters, gather prometheus.Gatherer, done func(), err error) {
	done = func() {}
	src := metrics.Source{Engine: engName}
	if worker {
		src.Engine = "process"
	}
	reg := prometheus.NewRegistry()
	if eng == nil { // serving here: count
		counters = metrics.New()
		src.Counters = counters
		src.Cache = func() metrics.Cache { return ob.cache.read(ob.sw.cur.Load().site) }
	}
	if worker {
		dir := os.Getenv(process.EnvMetricsDir)
		if dir == "" {
			return nil, nil, done, nil // the supervisor has no admin listener
		}
		reg.MustRegister(metrics.NewCollector(src))
		stop, err := metrics.ServeWorker(dir, reg)
		if err != nil {
			return nil, nil, done, err
		}
		return counters, nil, stop, nil
	}
	reg.MustRegister(metrics.BuildInfo(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gather = reg
	if eng != nil {
		dir, err := os.MkdirTemp("", "weft-metrics-")
		if err != nil {
			return nil, nil, done, fmt.Errorf("weft: --admin: %w", err)
		}
		done = temporary(dir)
		eng.Env = append(eng.Env, process.EnvMetricsDir+"="+dir)
		restarts := new(atomic.Uint64)
		eng.Restarts = restarts
		src.Restarts = restarts.Load
		gather = prometheus.Gatherers{reg, metrics.NewWorkers(dir, 0)}
	}
	reg.MustRegister(metrics.NewCollector(src))
	return counters, gather, done, nil
}

// serveAdmin serves the admin endpoints on ln, or when it is nil on addr,
// until stop is called.
func serveAdmin(addr string, ln net.Listener, g prometheus.Gatherer, ob *observed, pprofOn bool, log *slog.Logger) (stop func(), err error) {
	if ln == nil {
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("weft: --admin: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(g))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ob.unready(time.Now()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(err.Error() + "\n"))
			return
		}
		w.Write([]byte("ready\n"))
	})
	if pprofOn {
		pprofRoutes(mux)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("admin listening", "addr", "http://"+ln.Addr().String()+"/")
	return func() { srv.Close() }, nil
}

// unready says why the server is not ready to serve at now, or nil.
func (ob *observed) unready(now time.Time) error {
	var errs []error
	if !ob.ready.Load() {
		errs = append(errs, errors.New("not listening yet"))
	}
	for _, root := range ob.sw.cur.Load().site.Roots() {
		fi, err := os.Stat(root)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("root: %w", err))
		case !fi.IsDir():
			errs = append(errs, fmt.Errorf("root %s: not a folder", root))
		}
	}
	if sec := ob.sec.Load(); sec != nil && sec.certs != nil {
		for _, leaf := range sec.certs.Leaves() {
			if leaf != nil && now.After(leaf.NotAfter) {
				errs = append(errs, fmt.Errorf("certificate for %s expired at %s", strings.Join(leaf.DNSNames, ","), leaf.NotAfter.UTC().Format(time.RFC3339)))
			}
		}
	}
	return errors.Join(errs...)
}
