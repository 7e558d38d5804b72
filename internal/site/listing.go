package site

import (
	"html"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/weft-server/weft/internal/http1"
)

// serveListing plans an HTML index of the directory name. Hidden entries
// are left out unless dotfiles are served. The page is generated per request
// and sent with no validators, like nginx's autoindex.
func (s *Site) serveListing(req *http1.Request, resp *http1.Response, name string) {
	entries, err := fs.ReadDir(s.root.FS(), name)
	if err != nil {
		http1.ErrorPage(resp, statusForError(err))
		return
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
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") && !s.cfg.Dotfiles && n != ".well-known" {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		display, size := n, strconv.FormatInt(info.Size(), 10)
		if e.IsDir() {
			display, size = n+"/", "-"
		}
		href := (&url.URL{Path: display}).EscapedPath()
		if strings.Contains(strings.SplitN(href, "/", 2)[0], ":") {
			href = "./" + href // a colon in the first segment would read as a scheme
		}
		b.WriteString("<tr><td><a href=\"" + html.EscapeString(href) + "\">" + html.EscapeString(display) + "</a></td><td class=\"n\">" +
			size + "</td><td>" + info.ModTime().UTC().Format("2006-01-02 15:04") + "</td></tr>\n")
	}
	b.WriteString("</table>\n</body></html>\n")
	resp.Status = 200
	resp.AddHeader("Content-Type", "text/html; charset=utf-8")
	resp.AddHeader("Cache-Control", "no-cache")
	resp.Body = []byte(b.String())
}
