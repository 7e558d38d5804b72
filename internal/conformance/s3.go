package conformance

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// versitygw is the S3-compatible server the object-store tests run
// (Apache-2.0; its posix backend keeps each bucket as a folder), installed
// by .ci/run with `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`.
const versitygwBin = "versitygw"

// S3 is a real S3-compatible server (versitygw) on 127.0.0.1, started for
// one test: path-style addressing, region us-east-1, one account.
type S3 struct {
	Endpoint  string // host:port, plain HTTP
	AccessKey string
	SecretKey string
	Dir       string // the folder of its posix backend: a bucket is a folder in it

	t    testing.TB
	bin  string
	port int

	mu   sync.Mutex
	proc *process // nil while stopped
	runs int
}

// StartS3 starts versitygw on a free port with an empty backend folder and
// stops it when the test ends. Without versitygw the test is skipped, or
// fails when WEFT_TEST_REQUIRE_S3=1 (as in CI).
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := findTool(versitygwBin)
	if bin == "" {
		msg := "versitygw is needed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
		if os.Getenv("WEFT_TEST_REQUIRE_S3") == "1" {
			t.Fatal(msg + "; WEFT_TEST_REQUIRE_S3=1 makes its absence a failure")
		}
		t.Skip(msg + "; skipping (set WEFT_TEST_REQUIRE_S3=1 to fail instead)")
	}
	s := &S3{AccessKey: "weft-test-access", SecretKey: "weft-test-secret-key", Dir: t.TempDir(), t: t, bin: bin}
	var err error
	for range 3 { // a free port can be taken between choosing and binding it
		s.port = FreePort(t)
		s.Endpoint = "127.0.0.1:" + strconv.Itoa(s.port)
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatal(err)
	return nil
}

// Stop kills the server (an outage: connections refused until Start).
func (s *S3) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
}

// Start starts the server again on the same port and folder after Stop.
func (s *S3) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *S3) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return nil
	}
	s.runs++
	env := append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	p := startProcess(s.t, fmt.Sprintf("versitygw#%d", s.runs), s.bin, env, "--port", s.Endpoint, "posix", s.Dir)
	if err := waitTCP(p, s.Endpoint, 15*time.Second); err != nil {
		p.kill()
		return err
	}
	s.proc = p
	return nil
}
