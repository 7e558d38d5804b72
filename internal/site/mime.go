package site

import "path"

// mimeTypes is weft's fixed table of content types by extension, so that the
// same file is labelled the same way on every host (the host's
// /etc/mime.types is not consulted). Text types carry charset=utf-8.
var mimeTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".htm":         "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
	".md":          "text/markdown; charset=utf-8",
	".csv":         "text/csv; charset=utf-8",
	".xml":         "text/xml; charset=utf-8",
	".rss":         "application/rss+xml",
	".atom":        "application/atom+xml",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".avif":        "image/avif",
	".ico":         "image/x-icon",
	".bmp":         "image/bmp",
	".tif":         "image/tiff",
	".tiff":        "image/tiff",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".ttf":         "font/ttf",
	".otf":         "font/otf",
	".eot":         "application/vnd.ms-fontobject",
	".wasm":        "application/wasm",
	".pdf":         "application/pdf",
	".zip":         "application/zip",
	".gz":          "application/gzip",
	".tgz":         "application/gzip",
	".tar":         "application/x-tar",
	".bz2":         "application/x-bzip2",
	".xz":          "application/x-xz",
	".zst":         "application/zstd",
	".7z":          "application/x-7z-compressed",
	".mp3":         "audio/mpeg",
	".ogg":         "audio/ogg",
	".oga":         "audio/ogg",
	".opus":        "audio/opus",
	".wav":         "audio/wav",
	".flac":        "audio/flac",
	".m4a":         "audio/mp4",
	".mp4":         "video/mp4",
	".m4v":         "video/mp4",
	".webm":        "video/webm",
	".ogv":         "video/ogg",
	".mov":         "video/quicktime",
	".avi":         "video/x-msvideo",
	".mpeg":        "video/mpeg",
	".ics":         "text/calendar; charset=utf-8",
	".vtt":         "text/vtt; charset=utf-8",
	".yaml":        "application/yaml",
	".yml":         "application/yaml",
	".toml":        "application/toml",
	".epub":        "application/epub+zip",
	".apk":         "application/vnd.android.package-archive",
	".deb":         "application/vnd.debian.binary-package",
	".iso":         "application/x-iso9660-image",
	".exe":         "application/octet-stream",
	".bin":         "application/octet-stream",
}

const defaultType = "application/octet-stream"

// contentType returns the content type s serves the file name with.
func (s *Site) contentType(name string) string { return contentType(name) }

// contentType returns the content type for a file name by its extension,
// ignoring case.
func contentType(name string) string {
	ext := path.Ext(name)
	if ext == "" || len(ext) > 16 {
		return defaultType
	}
	var buf [16]byte
	low := buf[:len(ext)]
	for i := 0; i < len(ext); i++ {
		c := ext[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	if t, ok := mimeTypes[string(low)]; ok {
		return t
	}
	return defaultType
}
