package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/s3conn"
)

// deployStore starts a real S3 server with the bucket weft-site, and
// returns the store flags and the environment that reach it.
func deployStore(t *testing.T) (s3 *conformance.S3, flags, env []string) {
	t.Helper()
	s3 = conformance.StartS3(t)
	env = []string{"AWS_ACCESS_KEY_ID=" + s3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3.SecretKey, "AWS_SESSION_TOKEN=", "AWS_PROFILE="}
	c, err := s3conn.Options{Endpoint: "http://" + s3.Endpoint, Region: "us-east-1", PathStyle: true, Env: env}.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), "weft-site", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return s3, []string{"--s3-endpoint", "http://" + s3.Endpoint, "--s3-region", "us-east-1", "--s3-path-style"}, env
}

var versionID = regexp.MustCompile(`\d{8}T\d{6}Z-[0-9a-f]{8}`)

// TestDeployCommand deploys twice, lists, rolls back and collects
// through the binary, as a user would.
func TestDeployCommand(t *testing.T) {
	_, flags, env := deployStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "<h1>one</h1>", "css/site.css": "body{}", "css/site.css.gz": "gz"})
	deployArgs := append([]string{"deploy", dir, "s3://weft-site/www"}, flags...)
	deployOut := func(want ...string) string {
		t.Helper()
		code, out, errOut := weft(t, dir, env, deployArgs...)
		if code != 0 || errOut != "" {
			t.Fatalf("weft deploy: exit %d, %s", code, errOut)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("weft deploy's output lacks %q:\n%s", w, out)
			}
		}
		return versionID.FindString(out[strings.Index(out, "done:"):])
	}
	v1 := deployOut("scanned "+dir+": 3 files (20 bytes) in 2 folders", "uploaded 3 objects (20 bytes)", "(was none)",
		"3 files (20 bytes); objects: 3 new (20 bytes), 0 reused;")
	time.Sleep(1100 * time.Millisecond) // IDs are to the second
	writeTree(t, dir, map[string]string{"index.html": "<h1>two</h1>"})
	v2 := deployOut("1 of this site's 3 to upload (12 bytes), 2 reused", "(was "+v1+")", "objects: 1 new (12 bytes), 2 reused;")
	if v1 == "" || v2 == "" || v1 == v2 {
		t.Fatalf("version IDs %q, %q", v1, v2)
	}

	list := func() []string {
		t.Helper()
		code, out, errOut := weft(t, dir, env, append([]string{"deploy", "--list", "s3://weft-site/www"}, flags...)...)
		if code != 0 || errOut != "" {
			t.Fatalf("weft deploy --list: exit %d, %s", code, errOut)
		}
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	rows := list()
	if len(rows) != 3 || !strings.HasPrefix(rows[1], v2) || !strings.HasSuffix(rows[1], "current") ||
		!regexp.MustCompile(`^`+v1+` +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +3 +20$`).MatchString(rows[2]) {
		t.Errorf("--list:\n%s", strings.Join(rows, "\n"))
	}

	code, out, errOut := weft(t, dir, env, append([]string{"deploy", "--rollback", v1, "s3://weft-site/www"}, flags...)...)
	if code != 0 || errOut != "" || !strings.Contains(out, "switched s3://weft-site/www to "+v1+" (was "+v2+")") {
		t.Fatalf("--rollback: exit %d, %s%s", code, out, errOut)
	}
	if rows = list(); !strings.HasSuffix(rows[2], "current") || strings.HasSuffix(rows[1], "current") {
		t.Errorf("--list after the rollback:\n%s", strings.Join(rows, "\n"))
	}

	// v1 is current and v2 the newest: --keep 1 keeps both.
	keep := append([]string{"deploy", "--keep", "1", "--grace", "0s", "s3://weft-site/www"}, flags...)
	code, out, errOut = weft(t, dir, env, keep...)
	if code != 0 || errOut != "" || !strings.Contains(out, "2 versions, keeping the 1 newest and the current one: deleted 0 manifests") ||
		!strings.Contains(out, "4 objects, 4 named by the versions kept: deleted 0 (0 bytes)") {
		t.Errorf("--keep 1 on the older version: exit %d, %s%s", code, out, errOut)
	}
	// A deploy with --keep: v3 (the files of v2) is current and newest, and
	// v1, which it replaced, is kept too: servers serve it until they poll.
	time.Sleep(1100 * time.Millisecond)
	code, out, errOut = weft(t, dir, env, append(deployArgs, "--keep", "1", "--grace", "0s")...)
	if code != 0 || errOut != "" || !strings.Contains(out, "objects: 0 new (0 bytes), 3 reused;") ||
		!strings.Contains(out, "3 versions, keeping the 1 newest, the current one and the one it replaced: deleted 1 manifest: "+v2+"\n") ||
		!strings.Contains(out, "4 objects, 4 named by the versions kept: deleted 0 (0 bytes)") {
		t.Errorf("deploy --keep 1: exit %d, %s%s", code, out, errOut)
	}
	if rows = list(); len(rows) != 3 || !strings.HasSuffix(rows[1], "current") || !strings.HasPrefix(rows[2], v1) {
		t.Errorf("--list after deploy --keep:\n%s", strings.Join(rows, "\n"))
	}
	// --keep alone, later: v1 and the object only it named go.
	code, out, errOut = weft(t, dir, env, keep...)
	if code != 0 || errOut != "" || !strings.Contains(out, "2 versions, keeping the 1 newest and the current one: deleted 1 manifest: "+v1) ||
		!strings.Contains(out, "4 objects, 3 named by the versions kept: deleted 1 (12 bytes)") {
		t.Errorf("--keep 1 after the deploy: exit %d, %s%s", code, out, errOut)
	}
	if rows = list(); len(rows) != 2 || !strings.HasSuffix(rows[1], "current") {
		t.Errorf("--list after --keep:\n%s", strings.Join(rows, "\n"))
	}
}

// TestDeployErrors: bad input gets one line and the right exit status
// from the binary, never a stack trace, and changes nothing.
func TestDeployErrors(t *testing.T) {
	s3, flags, env := deployStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "hi"})
	file := filepath.Join(dir, "index.html")
	empty := filepath.Join(dir, "empty")
	writeTree(t, empty, map[string]string{".hidden": "a dotfile only"})
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		msg  string
	}{
		{"NotAFolder", nil, []string{file, "s3://weft-site/www"}, 1, "weft deploy: cannot deploy " + file + ": not a folder\n"},
		{"NoFolder", nil, []string{dir + "/nope", "s3://weft-site/www"}, 1, ": no such file or directory\n"},
		{"EmptyFolder", nil, []string{empty, "s3://weft-site/www"}, 1, "weft deploy: cannot deploy " + empty + ": it holds no file a request can reach\n"},
		{"NotS3", nil, []string{dir, "http://weft-site/www"}, 2, `"http://weft-site/www" is not an s3:// URL`},
		{"BadBucketName", nil, []string{dir, "s3://Weft_Site/www"}, 2, `bucket name "Weft_Site"`},
		{"DotDotPrefix", nil, []string{dir, "s3://weft-site/a/../b"}, 2, `prefix "a/../b"`},
		{"NoURL", nil, []string{dir}, 2, "want DIR and s3://BUCKET/PREFIX"},
		{"UnknownVersion", nil, []string{"--rollback", "20200101T000000Z-00000000", "s3://weft-site/www"}, 1,
			"weft deploy: no such version 20200101T000000Z-00000000 in s3://weft-site/www"},
		{"MalformedVersion", nil, []string{"--rollback", "../x", "s3://weft-site/www"}, 2, `--rollback "../x": not a version ID`},
		{"MissingBucket", nil, []string{dir, "s3://no-such-bucket/www"}, 1, `weft deploy: s3://no-such-bucket/www: bucket "no-such-bucket" does not exist` + "\n"},
		{"WrongSecret", []string{"AWS_SECRET_ACCESS_KEY=wrong"}, []string{dir, "s3://weft-site/www"}, 1, "the store refused the credentials"},
		{"UnknownKey", []string{"AWS_ACCESS_KEY_ID=nobody"}, []string{"--list", "s3://weft-site/www"}, 1, "the store refused the credentials"},
		{"NoCredentials", []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "HOME=" + dir, "AWS_SHARED_CREDENTIALS_FILE="}, []string{dir, "s3://weft-site/www"}, 1,
			"weft deploy: no s3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give --s3-credentials-file\n"},
		{"MissingCredentialsFile", nil, []string{dir, "s3://weft-site/www", "--s3-credentials-file", dir + "/creds"}, 1, "weft deploy: s3 credentials from " + dir + "/creds, profile default: no such file or directory\n"},
		{"KeepZero", nil, []string{"--keep", "0", "s3://weft-site/www"}, 2, "--keep 0: keep at least 1 version"},
		{"ListWithDir", nil, []string{"--list", dir, "s3://weft-site/www"}, 2, "--list and --rollback take one s3://BUCKET/PREFIX, no DIR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := weft(t, dir, append(env, tc.env...), append(append([]string{"deploy"}, tc.args...), flags...)...)
			lines := strings.Count(errOut, "\n")
			if code != tc.code || !strings.Contains(errOut, tc.msg) || out != "" && tc.code == 2 ||
				(code == 1 && lines != 1) || (code == 2 && lines != 2) || strings.Contains(errOut, "panic") {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want %q in one line)", code, tc.code, out, errOut, tc.msg)
			}
		})
	}
	t.Run("StoreDown", func(t *testing.T) {
		s3.Stop()
		defer s3.Start()
		code, _, errOut := weft(t, dir, env, append([]string{"deploy", dir, "s3://weft-site/www"}, flags...)...)
		if code != 1 || errOut != "weft deploy: s3://weft-site/www: cannot reach the store: connection refused\n" {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
	// Nothing above wrote anything.
	if entries, err := os.ReadDir(filepath.Join(s3.Dir, "weft-site")); err != nil || len(entries) != 0 {
		t.Errorf("the bucket holds %d entries (%v) after failed deploys", len(entries), err)
	}
}

// TestDeployThenKeepFails: with --keep, a deploy that is done and a --keep
// that then fails (here on a damaged manifest) exits 1 with one line that
// says the deploy is done and which version is current, not a failure
// that reads as the pointer left where it was.
func TestDeployThenKeepFails(t *testing.T) {
	s3, flags, env := deployStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "hi"})
	damaged := filepath.Join(s3.Dir, "weft-site", "www", ".weft", "versions", "20200101T000000Z-00000000.json")
	if err := os.MkdirAll(filepath.Dir(damaged), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(damaged, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := weft(t, dir, env, append([]string{"deploy", dir, "s3://weft-site/www", "--keep", "5"}, flags...)...)
	id := versionID.FindString(out[strings.Index(out, "done:"):])
	if code != 1 || id == "" || strings.Count(errOut, "\n") != 1 ||
		!strings.Contains(out, "is on version "+id+": 1 file (2 bytes); objects: 1 new (2 bytes), 0 reused;") ||
		!strings.HasPrefix(errOut, "weft deploy: --keep: ") || !strings.Contains(errOut, "the deploy is done: s3://weft-site/www is on version "+id) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
