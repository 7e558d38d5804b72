// Package codec is weft's content codings (RFC 9110 §8.4.1): which ones
// there are, which media types are worth compressing, how a client's
// Accept-Encoding ranks them, and the encoders and decoders themselves
// (klauspost/compress for gzip and zstd, andybalholm/brotli for br). It
// does no file or socket I/O: callers give it bytes or streams.
package codec

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Coding is a content coding.
type Coding uint8

const (
	Identity Coding = iota
	Brotli
	Zstd
	Gzip
	N // how many codings there are, identity included
)

// Encoded lists the codings other than identity in the server's order of
// preference, for clients that rate several equally: br compresses text
// best, zstd decodes fastest, gzip is understood everywhere.
var Encoded = [...]Coding{Brotli, Zstd, Gzip}

// Token is the coding's name in Accept-Encoding and Content-Encoding.
func (c Coding) Token() string {
	switch c {
	case Brotli:
		return "br"
	case Zstd:
		return "zstd"
	case Gzip:
		return "gzip"
	}
	return "identity"
}

// Ext is the suffix of a precompressed sidecar in this coding ("app.js.br"
// beside "app.js"); "" for identity.
func (c Coding) Ext() string {
	switch c {
	case Brotli:
		return ".br"
	case Zstd:
		return ".zst"
	case Gzip:
		return ".gz"
	}
	return ""
}

func (c Coding) String() string { return c.Token() }

// Level is how hard an encoder works.
type Level uint8

const (
	// Fast is for compressing while serving: brotli's newer encoder at
	// level 4 (about twice the speed of its classic q4, with a better
	// ratio), zstd's default, gzip 6.
	Fast Level = iota
	// Best is for compressing once at deploy time: brotli 11, zstd's
	// strongest, gzip 9.
	Best
	// Cached is for a variant compressed once per version of a file and
	// kept: stronger than Fast, at a few milliseconds per 100 KiB
	// (brotli 6, zstd's better level, gzip 9). On jquery.js (93 KB) here:
	// br 32.1 KB in 7.7 ms (level 4: 33.7 KB in 3.8 ms; 11: 29.8 KB in
	// 200 ms), gzip 33.3 KB in 4.8 ms (level 6: 34.5 KB in 1.3 ms).
	Cached
)

// NewWriter returns an encoder of coding c that writes to w. Close flushes
// it (and does not close w).
func NewWriter(w io.Writer, c Coding, lvl Level) (io.WriteCloser, error) {
	switch c {
	case Brotli:
		switch lvl {
		case Best:
			return brotli.NewWriterLevel(w, brotli.BestCompression), nil
		case Cached:
			return brotli.NewWriterLevel(w, 6), nil
		}
		return brotli.NewWriterV2(w, 4), nil
	case Zstd:
		l := zstd.SpeedDefault
		switch lvl {
		case Best:
			// klauspost/compress's strongest level, its counterpart of
			// the reference encoder's 19.
			l = zstd.SpeedBestCompression
		case Cached:
			l = zstd.SpeedBetterCompression
		}
		return zstd.NewWriter(w, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	case Gzip:
		l := 6
		if lvl == Best || lvl == Cached {
			l = flate.BestCompression
		}
		return gzip.NewWriterLevel(w, l)
	}
	return nil, fmt.Errorf("codec: no encoder for %s", c)
}

// NewReader returns a decoder of coding c reading from r.
func NewReader(r io.Reader, c Coding) (io.ReadCloser, error) {
	switch c {
	case Brotli:
		return io.NopCloser(brotli.NewReader(r)), nil
	case Zstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case Gzip:
		return gzip.NewReader(r)
	}
	return nil, fmt.Errorf("codec: no decoder for %s", c)
}

// Compress returns src encoded in coding c.
func Compress(c Coding, lvl Level, src []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(src)/3 + 64)
	w, err := NewWriter(&b, c, lvl)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(src); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Decompress returns the decoding of src, for tests and checks.
func Decompress(c Coding, src []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(src), c)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// ByExt returns the coding whose sidecar suffix name ends with, if any.
func ByExt(name string) (Coding, bool) {
	for _, c := range Encoded {
		if strings.HasSuffix(name, c.Ext()) {
			return c, true
		}
	}
	return Identity, false
}
