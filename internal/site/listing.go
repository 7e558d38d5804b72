package site

import (
	"html"
	"sort"
	"strconv"
	"strings"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/http1"
)

// serveListing plans an HTML index of the directory name. Hidden entries
// are left out unless dotfiles are served, and so are names no request can
// reach; every link is percent-encoded to fetch exactly its file. The page is generated per request
// and sent with no validators, like nginx's autoindex. It returns the
// error status to answer with instead, if any.
func (s *Site) serveListing(req *http1.Request, resp *http1.Response, name string) int {
	entries, err := s.readDir(name)
	if err != nil {
		return statusForError(err)
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].IsDir() != entries[j].IsDir() {
			return entries[i].IsDir()
		}
		return entries[i].Name() < entries[j].Name()
	})
	title := html.EscapeString("Index of /" + strings.TrimPrefix(name, "."))
	if name != "." {
		title = html.EscapeString("Index of /" + name + "/")
	}
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\n<title>")
	b.WriteString(title)
	b.WriteString("</title>\n<style>body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em}" +
		"table{border-collapse:collapse;width:100%}td{padding:.2em .8em}td.n{text-align:right;font-variant-numeric:tabular-nums}" +
		"tr:nth-child(even){background:#f4f4f6}a{text-decoration:none}</style></head>\n<body><h1>")
	b.WriteString(title)
	b.WriteString("</h1>\n<table>\n")
	if name != "." {
		b.WriteString("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n")
	}
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		names[e.Name()] = true
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") && !s.cfg.Dotfiles && n != ".well-known" {
			continue
		}
		if c, ok := codec.ByExt(n); ok && !s.cfg.Compress.NoPrecompressed && names[strings.TrimSuffix(n, c.Ext())] {
			continue // a sidecar: another representation of the file listed
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if !fetchable(n) {
			continue // a link to it would only answer 400
		}
		display, size := n, strconv.FormatInt(info.Size(), 10)
		href := escapeName(n)
		if e.IsDir() {
			display, size, href = n+"/", "-", href+"/"
		}
		b.WriteString("<tr><td><a href=\"" + html.EscapeString(href) + "\">" + html.EscapeString(display) + "</a></td><td class=\"n\">" +
			size + "</td><td>" + info.ModTime().UTC().Format("2006-01-02 15:04") + "</td></tr>\n")
	}
	b.WriteString("</table>\n</body></html>\n")
	resp.Status = 200
	resp.AddHeader("Content-Type", "text/html; charset=utf-8")
	resp.AddHeader("Cache-Control", "no-cache")
	resp.Body = []byte(b.String())
	return 0
}

// fetchable reports whether a request for the name n (one segment) can
// reach it: resolve refuses control bytes and backslashes.
func fetchable(n string) bool {
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// escapeName percent-encodes every byte of the name n but the unreserved
// ones (RFC 3986 §2.3), so that a link to it, relative to its directory,
// resolves back to exactly n: no byte can end the path ('?', '#'), read as
// a scheme (':'), start an escape ('%') or a new segment ('/'), or need
// quoting in HTML.
func escapeName(n string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(n)*3)
	for i := 0; i < len(n); i++ {
		c := n[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}
