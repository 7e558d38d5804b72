// Package loadgen is the load generator behind `weft bench`: closed-loop
// keep-alive HTTP/1.1 clients over real sockets, with a latency histogram.
// It is deliberately simple (no pipelining, one request in flight per
// connection) so its own cost is the same for every server it measures.
package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config describes one run.
type Config struct {
	Addr     string        // host:port
	Path     string        // request target
	Conns    int           // concurrent connections
	Duration time.Duration // length of the run
}

// Result is what a run measured.
type Result struct {
	Requests int64
	Errors   int64
	Served   int // connections that completed at least one request
	Bytes    int64
	Elapsed  time.Duration
	hist     [nBuckets]int64
}

// RPS is requests per second.
func (r *Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Quantile returns the latency below which a fraction q of requests fell
// (to the histogram's resolution, about 5%).
func (r *Result) Quantile(q float64) time.Duration {
	want := int64(math.Ceil(q * float64(r.Requests)))
	var seen int64
	for i, n := range r.hist {
		seen += n
		if seen >= want && n > 0 {
			return bucketUpper(i)
		}
	}
	return 0
}

// Latency buckets grow by 5% from 1µs: enough resolution for p99.
const nBuckets = 400

func bucketOf(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	i := int(math.Log(us) / math.Log(1.05))
	return min(i, nBuckets-1)
}

func bucketUpper(i int) time.Duration {
	return time.Duration(math.Pow(1.05, float64(i+1)) * float64(time.Microsecond))
}

// Run loads cfg.Addr until cfg.Duration passes or ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	req := []byte("GET " + cfg.Path + " HTTP/1.1\r\nHost: " + cfg.Addr + "\r\nUser-Agent: weft-bench\r\n\r\n")
	results := make([]Result, cfg.Conns)
	errs := make([]error, cfg.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < cfg.Conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = client(ctx, cfg.Addr, req, &results[i])
		}()
	}
	wg.Wait()
	total := &Result{Elapsed: time.Since(start)}
	for i := range results {
		r := &results[i]
		total.Requests += r.Requests
		if r.Requests > 0 {
			total.Served++
		}
		total.Errors += r.Errors
		total.Bytes += r.Bytes
		for b, n := range r.hist {
			total.hist[b] += n
		}
	}
	if total.Requests == 0 {
		return total, fmt.Errorf("weft: bench: no request succeeded: %w", errors.Join(errs...))
	}
	return total, nil
}

// client runs one connection's closed loop, reconnecting after errors.
func client(ctx context.Context, addr string, req []byte, r *Result) error {
	var lastErr error
	for ctx.Err() == nil {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			if ctx.Err() == nil {
				r.Errors++
				lastErr = err
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
		br := bufio.NewReaderSize(c, 64<<10)
		for ctx.Err() == nil {
			t0 := time.Now()
			if _, err := c.Write(req); err != nil {
				lastErr = err
				break
			}
			n, keep, err := readResponse(br)
			if ctx.Err() != nil {
				// The run is over: a response that completes now falls
				// outside the measured window (and, for a server that
				// serves one client at a time, may come from a client it
				// only took up because the run's end closed another).
				break
			}
			if err != nil {
				r.Errors++
				lastErr = err
				break
			}
			r.hist[bucketOf(time.Since(t0))]++
			r.Requests++
			r.Bytes += n
			if !keep {
				break
			}
		}
		stop()
		c.Close()
	}
	return lastErr
}

// readResponse reads one response and reports its body size and whether
// the connection stays open. Non-2xx statuses count as errors.
func readResponse(br *bufio.Reader) (int64, bool, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || string(line[:5]) != "HTTP/" || line[9] != '2' {
		return 0, false, fmt.Errorf("weft: bench: unexpected status line %q", strings.TrimSpace(string(line)))
	}
	var length int64 = -1
	keep := true
	for {
		l, err := br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		s := strings.TrimSpace(string(l))
		if s == "" {
			break
		}
		name, value, _ := strings.Cut(s, ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			if length, err = strconv.ParseInt(value, 10, 64); err != nil {
				return 0, false, err
			}
		case "connection":
			keep = !strings.EqualFold(value, "close")
		}
	}
	if length < 0 {
		return 0, false, errors.New("weft: bench: response without Content-Length")
	}
	if _, err := br.Discard(int(length)); err != nil {
		return 0, false, err
	}
	return length, keep, nil
}
