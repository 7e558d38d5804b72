package tlsx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/crypto/ocsp"
)

const (
	minOCSPRefresh  = time.Hour
	maxOCSPRefresh  = 24 * time.Hour
	ocspTimeout     = 10 * time.Second
	maxOCSPResponse = 1 << 20
)

// An ocspFetcher keeps OCSP staples fresh.
type ocspFetcher struct {
	log    *slog.Logger
	now    func() time.Time
	client *http.Client
	retry  time.Duration // the first wait after a failure; it doubles up to maxOCSPRefresh
}

func newOCSPFetcher(log *slog.Logger, now func() time.Time, retry time.Duration) *ocspFetcher {
	return &ocspFetcher{log: log, now: now, client: &http.Client{Timeout: ocspTimeout}, retry: retry}
}

// staple fetches, verifies and staples responses for e until ctx is done.
// e.leaf has a responder and e.issuer is set.
func (f *ocspFetcher) staple(ctx context.Context, e *entry) {
	backoff := f.retry
	for {
		wait, err := f.refresh(ctx, e)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			f.log.Warn("weft: tls: OCSP staple not refreshed; retrying later", "cert", e.pair.Cert,
				"responder", e.leaf.OCSPServer[0], "err", err, "retry_in", backoff.String())
			f.dropExpired(e)
			wait = backoff
			backoff = min(2*backoff, maxOCSPRefresh)
		} else {
			backoff = f.retry
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// errRevoked is what refresh returns for a response that is not Good.
var errRevoked = errors.New("weft: tls: OCSP status is not good")

// refresh asks each responder of e in turn and staples the first good
// response; it returns when to refresh next.
func (f *ocspFetcher) refresh(ctx context.Context, e *entry) (time.Duration, error) {
	req, err := ocsp.CreateRequest(e.leaf, e.issuer, nil)
	if err != nil {
		return 0, fmt.Errorf("weft: tls: OCSP request: %w", err)
	}
	var errs []error
	for _, url := range e.leaf.OCSPServer {
		der, err := f.fetch(ctx, url, req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp, err := ocsp.ParseResponseForCert(der, e.leaf, e.issuer)
		if err != nil {
			errs = append(errs, fmt.Errorf("weft: tls: OCSP response from %s: %w", url, err))
			continue
		}
		now := f.now()
		if resp.Status != ocsp.Good {
			// Never staple a revoked or unknown status, nor keep
			// stapling an older Good one.
			setStaple(e, nil)
			return 0, fmt.Errorf("%w: %s from %s", errRevoked, statusName(resp.Status), url)
		}
		if !resp.NextUpdate.IsZero() && !now.Before(resp.NextUpdate) {
			errs = append(errs, fmt.Errorf("weft: tls: OCSP response from %s is stale (next update %s)", url, resp.NextUpdate.UTC().Format(time.RFC3339)))
			continue
		}
		setStaple(e, der)
		return refreshAfter(resp, now), nil
	}
	return 0, errors.Join(errs...)
}

// fetch POSTs req to the responder url.
func (f *ocspFetcher) fetch(ctx context.Context, url string, req []byte) ([]byte, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("weft: tls: OCSP responder %s: %w", url, err)
	}
	hreq.Header.Set("Content-Type", "application/ocsp-request")
	hreq.Header.Set("Accept", "application/ocsp-response")
	resp, err := f.client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("weft: tls: OCSP responder: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("weft: tls: OCSP responder %s: %s", url, resp.Status)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, maxOCSPResponse+1))
	if err != nil {
		return nil, fmt.Errorf("weft: tls: OCSP responder %s: %w", url, err)
	}
	if len(der) > maxOCSPResponse {
		return nil, fmt.Errorf("weft: tls: OCSP responder %s: response over %d bytes", url, maxOCSPResponse)
	}
	return der, nil
}

// refreshAfter is half the response's validity, within
// [minOCSPRefresh, maxOCSPRefresh], and in any case before it expires.
func refreshAfter(r *ocsp.Response, now time.Time) time.Duration {
	if r.NextUpdate.IsZero() {
		return minOCSPRefresh
	}
	d := min(max(r.NextUpdate.Sub(r.ThisUpdate)/2, minOCSPRefresh), maxOCSPRefresh)
	if left := r.NextUpdate.Sub(now); d >= left {
		d = max(left/2, time.Minute)
	}
	return d
}

// dropExpired removes e's staple once it is past its NextUpdate: clients
// reject an expired staple, and a must-staple certificate then fails.
func (f *ocspFetcher) dropExpired(e *entry) {
	staple := e.cert.Load().OCSPStaple
	if staple == nil {
		return
	}
	r, err := ocsp.ParseResponse(staple, nil)
	if err != nil || (!r.NextUpdate.IsZero() && !f.now().Before(r.NextUpdate)) {
		setStaple(e, nil)
	}
}

// setStaple replaces e's certificate by a copy with the staple.
func setStaple(e *entry, staple []byte) {
	c := *e.cert.Load()
	c.OCSPStaple = staple
	e.cert.Store(&c)
}

func statusName(s int) string {
	switch s {
	case ocsp.Good:
		return "good"
	case ocsp.Revoked:
		return "revoked"
	case ocsp.Unknown:
		return "unknown"
	}
	return fmt.Sprintf("status %d", s)
}
