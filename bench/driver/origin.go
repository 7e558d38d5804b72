package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The origin cases serve the same files from an s3:// root as from the
// directory: a real S3-compatible server (versitygw, posix backend, not
// pinned: once the files are cached it is asked only for metadata, every
// --origin-poll) holds the bucket "bench" with index.html and app.js, and
// cold/ with objects that only the cold-miss measure reads.

const (
	originBucket = "bench"
	originKey    = "weft-bench-access"
	originSecret = "weft-bench-secret-key"
	coldFiles    = 40 // per size, for the cold-miss latency
)

// originStore is the running S3 server.
type originStore struct {
	endpoint string
	cmd      *exec.Cmd
}

// startOrigin starts versitygw beneath work and fills the bucket from
// root (index.html, app.js) and with the cold objects.
func startOrigin(work, root string) (*originStore, error) {
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		bin = filepath.Join(os.Getenv("HOME"), "go", "bin", "versitygw")
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("the origin cases need versitygw (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
		}
	}
	dir := filepath.Join(work, "s3")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--port", addr, "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+originKey, "ROOT_SECRET_KEY="+originSecret)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	o := &originStore{endpoint: addr, cmd: cmd}
	port, _ := strconv.Atoi(addr[len("127.0.0.1:"):])
	if err := waitListening(port); err != nil {
		o.stop()
		return nil, err
	}
	if err := o.fill(root); err != nil {
		o.stop()
		return nil, err
	}
	// weft reads its credentials from the environment, as a user's would.
	os.Setenv("AWS_ACCESS_KEY_ID", originKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", originSecret)
	return o, nil
}

func (o *originStore) stop() { stop(o.cmd) }

func (o *originStore) fill(root string) error {
	c, err := minio.New(o.endpoint, &minio.Options{Creds: credentials.NewStaticV4(originKey, originSecret, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := c.MakeBucket(ctx, originBucket, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		return err
	}
	put := func(key string, b []byte) error {
		_, err := c.PutObject(ctx, originBucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
		return err
	}
	for _, name := range []string{"index.html", "app.js"} {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return err
		}
		if err := put(name, b); err != nil {
			return err
		}
	}
	for i := 0; i < coldFiles; i++ {
		for _, size := range []int{1 << 10, 128 << 10} {
			b := bytes.Repeat([]byte{byte('a' + i%26)}, size)
			if err := put(coldKey(i, size), b); err != nil {
				return err
			}
		}
	}
	return nil
}

func coldKey(i, size int) string { return fmt.Sprintf("cold/%d-%03d.bin", size>>10, i) }

// originArgs are weft's flags for the bucket.
func (o *originStore) originArgs() []string {
	return []string{"--s3-endpoint", "http://" + o.endpoint, "--s3-path-style"}
}

// coldMisses measures, on a weft serving the bucket, the latency of a
// GET of each cold object once (a miss: metadata, then the bytes from
// the store), then again (cached), one request at a time on one
// keep-alive connection, and prints the figures.
func coldMisses(start func(port int) (*exec.Cmd, error), port int) error {
	cmd, err := start(port)
	if err != nil {
		return err
	}
	defer stop(cmd)
	if err := waitListening(port); err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(key string, size int) (time.Duration, error) {
		began := time.Now()
		r, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/%s", port, key))
		if err != nil {
			return 0, err
		}
		n, err := io.Copy(io.Discard, r.Body)
		r.Body.Close()
		d := time.Since(began)
		if err != nil || r.StatusCode != 200 || n != int64(size) {
			return 0, fmt.Errorf("GET /%s: status %d, %d bytes, %v", key, r.StatusCode, n, err)
		}
		return d, nil
	}
	fmt.Printf("\nOrigin cold misses: weft epoll over the s3:// root, one GET at a time on one keep-alive connection, each of %d objects per size never read before (a miss: the bytes by GET, ranged by segment for the 128 KiB ones, which go to the disk cache; and the folder's LIST, which the first miss makes and the others within --origin-poll share: it shows in max), then the same objects again (answered from the cache). Latency at the client:\n\n", coldFiles)
	fmt.Println("| objects | requests | median ms | p90 ms | max ms |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, size := range []int{1 << 10, 128 << 10} {
		for _, pass := range []string{"cold (miss)", "again (cached)"} {
			var ds []float64
			for i := 0; i < coldFiles; i++ {
				d, err := get(coldKey(i, size), size)
				if err != nil {
					return err
				}
				ds = append(ds, float64(d.Microseconds())/1000)
			}
			slices.Sort(ds)
			fmt.Printf("| %d KiB, %s | %d | %.2f | %.2f | %.2f |\n", size>>10, pass, len(ds), ds[len(ds)/2], ds[len(ds)*9/10], ds[len(ds)-1])
		}
	}
	return nil
}
