package site

// TypeOf returns the content type weft's fixed table gives the file name,
// by its extension alone (application/octet-stream when it has none the
// table knows), for tools that must judge files as the server labels them.
func TypeOf(name string) string { return contentType(name) }
