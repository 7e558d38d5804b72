package conformance

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
)

// ReadResponse reads one response to a GET (or OPTIONS) off br, byte for
// byte, for clients that must see every lost request (Go's http client
// retries some and hides them): it returns the exact bytes and whether the
// server said Connection: close. A response without Content-Length is an
// error, but a 204 or 304, which has no body.
func ReadResponse(br *bufio.Reader) (raw string, closing bool, err error) {
	var b strings.Builder
	length, bodiless := -1, false
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), closing, err
		}
		if b.Len() == len(line) {
			bodiless = strings.HasPrefix(line, "HTTP/1.1 204 ") || strings.HasPrefix(line, "HTTP/1.1 304 ")
		}
		if line == "\r\n" {
			break
		}
		k, v, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "content-length":
			length, _ = strconv.Atoi(v)
		case "connection":
			closing = strings.EqualFold(v, "close")
		}
	}
	switch {
	case bodiless:
		return b.String(), closing, nil
	case length < 0:
		return b.String(), closing, errors.New("no Content-Length")
	}
	body := make([]byte, length)
	n, err := io.ReadFull(br, body)
	b.Write(body[:n])
	return b.String(), closing, err
}
