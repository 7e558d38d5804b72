module github.com/weft-server/weft

go 1.26.8

require (
	github.com/andybalholm/brotli v1.3.0
	github.com/fsnotify/fsnotify v1.10.1
	github.com/klauspost/compress v1.20.4
	golang.org/x/sys v0.50.0
)

require github.com/bmatcuk/doublestar/v4 v4.10.4

require golang.org/x/crypto v0.59.0

require github.com/pelletier/go-toml/v2 v2.4.3

require golang.org/x/net v0.62.0

require golang.org/x/text v0.44.0 // indirect
