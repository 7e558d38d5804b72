package http1

import "strconv"

// pages holds the small HTML body weft sends with each error or redirect
// status; built once, shared by every response, never modified.
var pages = func() map[int][]byte {
	m := make(map[int][]byte)
	for _, code := range []int{201, 301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 408, 409, 412, 413, 414, 416, 421, 429, 431, 500, 501, 503, 505, 507} {
		title := strconv.Itoa(code) + " " + StatusText(code)
		m[code] = []byte("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + title +
			"</title></head>\n<body><h1>" + title + "</h1><hr><p>weft</p></body></html>\n")
	}
	return m
}()

// ErrorPage plans a response with status code and weft's small HTML page
// for it. It adds to whatever header lines resp already holds.
func ErrorPage(resp *Response, code int) {
	resp.Status = code
	if body, ok := pages[code]; ok {
		resp.Header.Add("Content-Type", "text/html; charset=utf-8")
		resp.Body = body
	}
}
