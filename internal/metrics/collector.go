package metrics

import (
	"runtime"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-server/weft/internal/buildinfo"
)

// Cache is what a process's file caches report (see site.CacheStats).
type Cache struct {
	Entries   int
	Bytes     int64
	Open      int
	Hits      uint64
	Misses    uint64
	Evictions uint64
	Variants  uint64
}

// Source is what a Collector reads at each scrape. Nil fields are left
// out of the exposition.
type Source struct {
	Engine   string        // the engine label
	Counters *Counters     // requests and connections
	Cache    func() Cache  // the file cache
	Restarts func() uint64 // prefork workers restarted after they died
}

// Collector is a prometheus.Collector over weft's own counters: it keeps
// no state of its own and reads the counters when scraped.
type Collector struct {
	src Source

	requests, body, duration, opened, open, idle, sendfile *prometheus.Desc
	entries, bytes, fds, hits, misses, evictions, variants *prometheus.Desc
	restarts                                               *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector reading src.
func NewCollector(src Source) *Collector {
	eng := prometheus.Labels{"engine": src.Engine}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, eng)
	}
	return &Collector{
		src:       src,
		requests:  d("weft_http_requests_total", "Requests answered, by protocol, method and status class.", "proto", "method", "code"),
		body:      d("weft_http_response_body_bytes_total", "Response body bytes queued for sending (as the access log's bytes; 0 for HEAD and 304).", "proto"),
		duration:  d("weft_http_request_duration_seconds", "Time from a request's first byte to its answer being queued."),
		opened:    d("weft_connections_accepted_total", "HTTP/1 connections accepted."),
		open:      d("weft_connections_open", "HTTP/1 connections open now."),
		idle:      d("weft_connections_idle", "HTTP/1 connections open now and waiting between requests."),
		sendfile:  d("weft_sendfile_bytes_total", "Response bytes sent from files with sendfile (or the engine's file copy)."),
		entries:   d("weft_cache_entries", "Files (and directory indexes) in the file cache."),
		bytes:     d("weft_cache_bytes", "Bytes charged to the file cache's entries: contents, headers, keys and bookkeeping."),
		fds:       d("weft_cache_open_files", "Descriptors the file cache holds open."),
		hits:      d("weft_cache_hits_total", "Requests answered from a cache entry without reading the file."),
		misses:    d("weft_cache_misses_total", "Files read into a new cache entry."),
		evictions: d("weft_cache_evictions_total", "Cache entries evicted to make room."),
		variants:  d("weft_compressed_variants_total", "Compressed variants of files built and cached."),
		restarts:  d("weft_worker_restarts_total", "Prefork workers restarted after they died."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	if c.src.Counters != nil {
		for _, d := range []*prometheus.Desc{c.requests, c.body, c.duration, c.opened, c.open, c.idle, c.sendfile} {
			ch <- d
		}
	}
	if c.src.Cache != nil {
		for _, d := range []*prometheus.Desc{c.entries, c.bytes, c.fds, c.hits, c.misses, c.evictions, c.variants} {
			ch <- d
		}
	}
	if c.src.Restarts != nil {
		ch <- c.restarts
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	if c.src.Counters != nil {
		sn := c.src.Counters.Snapshot()
		for p := range sn.Requests {
			for m := range sn.Requests[p] {
				for k, n := range sn.Requests[p][m] {
					if n > 0 {
						counter(c.requests, float64(n), Protos[p], Methods[m], Classes[k])
					}
				}
			}
			if sn.Body[p] > 0 {
				counter(c.body, float64(sn.Body[p]), Protos[p])
			}
		}
		buckets := make(map[float64]uint64, NBucket)
		var total uint64
		for b, n := range sn.Buckets {
			total += n
			if b < NBucket {
				buckets[Buckets[b].Seconds()] = total
			}
		}
		ch <- prometheus.MustNewConstHistogram(c.duration, total, sn.DurSum.Seconds(), buckets)
		counter(c.opened, float64(sn.Opened))
		gauge(c.open, float64(sn.Open()))
		gauge(c.idle, float64(sn.Idle))
		counter(c.sendfile, float64(sn.Sendfile))
	}
	if c.src.Cache != nil {
		st := c.src.Cache()
		gauge(c.entries, float64(st.Entries))
		gauge(c.bytes, float64(st.Bytes))
		gauge(c.fds, float64(st.Open))
		counter(c.hits, float64(st.Hits))
		counter(c.misses, float64(st.Misses))
		counter(c.evictions, float64(st.Evictions))
		counter(c.variants, float64(st.Variants))
	}
	if c.src.Restarts != nil {
		counter(c.restarts, float64(c.src.Restarts()))
	}
}

// BuildInfo returns a collector of weft_build_info: 1, labelled with the
// module version, the Go version and the VCS revision the binary was built
// from (from runtime/debug.ReadBuildInfo; "unknown" where it says nothing).
func BuildInfo() prometheus.Collector {
	version, revision, modified := "unknown", "unknown", "false"
	bi := buildinfo.Read()
	if bi.Version != "" {
		version = bi.Version
	}
	if bi.Revision != "" {
		revision, modified = bi.Revision, strconv.FormatBool(bi.Modified)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "weft_build_info",
		Help: "The build: module version, Go version, VCS revision; always 1.",
		ConstLabels: prometheus.Labels{
			"version": version, "goversion": runtime.Version(), "revision": revision, "modified": modified,
		},
	})
	g.Set(1)
	return g
}
