// Package s3conn connects to an S3-compatible object store: the store's
// flags (--s3-endpoint, --s3-region, --s3-path-style, --s3-credentials-file,
// --s3-profile), credentials from the usual AWS environment variables or a
// shared credentials file, s3://BUCKET/PREFIX locations, and one-line
// explanations of the store's errors. weft deploy and an s3:// root both
// connect through it; it knows nothing of what they store.
package s3conn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/spf13/pflag"
)

// Scheme begins a location in an object store.
const Scheme = "s3://"

// Location is a prefix in a bucket: s3://BUCKET/PREFIX.
type Location struct {
	Bucket string
	Prefix string // slash-separated, without leading or trailing slash; "" for the whole bucket
}

// String is the location as ParseURL reads it.
func (l Location) String() string {
	if l.Prefix == "" {
		return Scheme + l.Bucket
	}
	return Scheme + l.Bucket + "/" + l.Prefix
}

// IsURL reports whether s names a location in an object store rather
// than a folder.
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// ParseURL reads s3://BUCKET or s3://BUCKET/PREFIX: a valid bucket name,
// and a prefix of clean segments (no empty, "." or ".." one, no
// backslash, NUL, query or fragment); one trailing slash is allowed.
func ParseURL(s string) (Location, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return Location{}, fmt.Errorf("%q is not an s3:// URL: want s3://BUCKET/PREFIX", s)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return Location{}, fmt.Errorf("%q names no bucket: want s3://BUCKET/PREFIX", s)
	}
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return Location{}, fmt.Errorf("%q: bucket name %q: %s", s, bucket, strings.TrimPrefix(err.Error(), "Bucket name "))
	}
	if prefix != "/" {
		prefix = strings.TrimSuffix(prefix, "/") // "s3://B//" is no whole bucket: an empty segment
	}
	if prefix != "" && (!fs.ValidPath(prefix) || strings.ContainsAny(prefix, "\\\x00?#")) {
		return Location{}, fmt.Errorf("%q: prefix %q: want slash-separated names, no empty, . or .. one", s, prefix)
	}
	return Location{Bucket: bucket, Prefix: prefix}, nil
}

// Options say how to reach the store. The zero value is Amazon S3 with
// credentials and region from the environment.
type Options struct {
	Endpoint        string        // http://HOST:PORT or https://HOST[:PORT]; "" for AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else Amazon S3
	Region          string        // "" for AWS_REGION, AWS_DEFAULT_REGION, else asked of the store
	PathStyle       bool          // address buckets as HOST/BUCKET rather than BUCKET.HOST
	CredentialsFile string        // a shared credentials file (INI, as ~/.aws/credentials)
	Profile         string        // its profile; "" for AWS_PROFILE, else "default"
	Timeout         time.Duration // a request that makes no progress for this long fails; 0 for a minute
	Retries         int           // attempts per request, transient errors retried; 0 for 5

	// Env is the environment, as os.Environ returns it: the AWS_*
	// variables above, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
	// AWS_SESSION_TOKEN, AWS_SHARED_CREDENTIALS_FILE.
	Env []string
}

// AddFlags registers the store's flags on fs, setting o.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Endpoint, "s3-endpoint", "", "the object store's `URL` (http://HOST:PORT or https://HOST); default AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else Amazon S3")
	fs.StringVar(&o.Region, "s3-region", "", "the store's `region`; default AWS_REGION, AWS_DEFAULT_REGION, else asked of the store")
	fs.BoolVar(&o.PathStyle, "s3-path-style", false, "address buckets as HOST/BUCKET (most self-hosted stores), not BUCKET.HOST")
	fs.StringVar(&o.CredentialsFile, "s3-credentials-file", "", "read the access key from this shared credentials `file` (as ~/.aws/credentials) rather than AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	fs.StringVar(&o.Profile, "s3-profile", "", "the credentials file's `profile`; default AWS_PROFILE, else default")
}

// Request bounds: a store that accepts connections but stops answering,
// or stops reading what is sent, fails a request after Options.Timeout
// (defaultTimeout) without progress, and one attempt of a few.
const (
	defaultTimeout = time.Minute
	retries        = 5
)

// Client connects to the store o describes. It checks the options and
// finds the credentials; it sends no request.
func (o Options) Client() (*minio.Client, error) {
	env := envMap(o.Env)
	endpoint := firstOf(o.Endpoint, env["AWS_ENDPOINT_URL_S3"], env["AWS_ENDPOINT_URL"], "https://s3.amazonaws.com")
	u, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	creds, err := o.credentials(env)
	if err != nil {
		return nil, err
	}
	tr, err := minio.DefaultTransport(u.Scheme == "https")
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	// ResponseHeaderTimeout bounds the wait for an answer once a request
	// is sent; the connection's deadlines bound the rest: a request body
	// the store stops reading, an answer's body that stops coming.
	tr.ResponseHeaderTimeout = timeout
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &progressConn{Conn: c, timeout: timeout}, nil
	}
	lookup := minio.BucketLookupAuto
	if o.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Transport:    tr,
		Region:       firstOf(o.Region, env["AWS_REGION"], env["AWS_DEFAULT_REGION"]),
		BucketLookup: lookup,
		MaxRetries:   cmp.Or(o.Retries, retries),
	})
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint %q: %w", endpoint, err)
	}
	return c, nil
}

// CheckEndpoint reports an endpoint that is not http://HOST[:PORT] or
// https://HOST[:PORT], in one line.
func CheckEndpoint(endpoint string) error {
	_, err := parseEndpoint(endpoint)
	return err
}

func parseEndpoint(endpoint string) (*url.URL, error) {
	if shown, ok := withoutUserInfo(endpoint); !ok {
		return nil, fmt.Errorf("s3 endpoint %q: credentials do not go in the endpoint URL: give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or --s3-credentials-file", shown)
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("s3 endpoint %q: want http://HOST:PORT or https://HOST[:PORT]", endpoint)
	}
	return u, nil
}

// withoutUserInfo is endpoint with the user info of its authority (a
// secret, in "http://ID:SECRET@HOST") replaced by "…"; ok is false when
// it had some. It reads the text itself, so that an endpoint url.Parse
// refuses is not shown whole either.
func withoutUserInfo(endpoint string) (shown string, ok bool) {
	scheme, rest, found := strings.Cut(endpoint, "://")
	if !found {
		scheme, rest = "", endpoint
	} else {
		scheme += "://"
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return endpoint, true
	}
	return scheme + "…" + rest[at:], false
}

// progressConn is a connection that fails a read or a write that makes
// no progress for timeout. A write also moves the read deadline, past its
// own: the transport reads (for the next answer) while it writes a long
// request body, and that read must not time out while the body is still
// going out, nor before a stalled write does (the write's timeout is then
// the request's error, not the closed connection the read would leave).
type progressConn struct {
	net.Conn
	timeout time.Duration
}

func (c *progressConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(p)
}

func (c *progressConn) Write(p []byte) (int, error) {
	now := time.Now()
	c.Conn.SetWriteDeadline(now.Add(c.timeout))
	c.Conn.SetReadDeadline(now.Add(c.timeout + c.timeout/2))
	return c.Conn.Write(p)
}

// credentials are the file's when one is named, else the default shared
// file's (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials) when a
// profile is named (as the AWS CLI's --profile wins over the environment's
// keys), else the environment's, else the default file's when it exists.
func (o Options) credentials(env map[string]string) (*credentials.Credentials, error) {
	profile := firstOf(o.Profile, env["AWS_PROFILE"], "default")
	file := o.CredentialsFile
	if file == "" && o.Profile != "" {
		file = defaultCredentialsFile(env)
		if _, err := os.Stat(file); file == "" || err != nil {
			return nil, fmt.Errorf("--s3-profile %s: no shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials); give --s3-credentials-file", o.Profile)
		}
	}
	if file == "" {
		id := firstOf(env["AWS_ACCESS_KEY_ID"], env["AWS_ACCESS_KEY"])
		secret := firstOf(env["AWS_SECRET_ACCESS_KEY"], env["AWS_SECRET_KEY"])
		switch {
		case id != "" && secret != "":
			return credentials.NewStaticV4(id, secret, env["AWS_SESSION_TOKEN"]), nil
		case id != "" || secret != "":
			return nil, errors.New("s3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together; one is not set")
		}
		file = defaultCredentialsFile(env)
		if _, err := os.Stat(file); file == "" || err != nil {
			return nil, errors.New("no s3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give --s3-credentials-file")
		}
	}
	creds := credentials.NewFileAWSCredentials(file, profile)
	v, err := creds.GetWithContext(&credentials.CredContext{})
	if err != nil {
		return nil, fmt.Errorf("s3 credentials from %s, profile %s: %w", file, profile, fileError(err))
	}
	if v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return nil, fmt.Errorf("s3 credentials from %s, profile %s: no aws_access_key_id and aws_secret_access_key", file, profile)
	}
	return creds, nil
}

// Explain makes err from a request to the store one line a user can act
// on: a missing bucket, refused credentials, an unreachable store.
func Explain(err error, loc Location) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == minio.NoSuchBucket:
		return &explained{fmt.Sprintf("%s: bucket %q does not exist", loc, loc.Bucket), err}
	case resp.StatusCode == http.StatusForbidden, resp.Code == "InvalidAccessKeyId", resp.Code == "SignatureDoesNotMatch",
		resp.Code == "InvalidToken", resp.Code == "ExpiredToken",
		resp.Code == "XAdminUserNotFound": // versitygw's answer (404) to an unknown access key
		return &explained{fmt.Sprintf("%s: the store refused the credentials (%s: %s)", loc, resp.Code, oneLine(resp.Message)), err}
	case resp.Code != "":
		return &explained{fmt.Sprintf("%s: %s: %s", loc, resp.Code, oneLine(resp.Message)), err}
	}
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &explained{fmt.Sprintf("%s: cannot reach the store: connection refused", loc), err}
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return &explained{fmt.Sprintf("%s: the store did not answer in time", loc), err}
	case errors.As(err, &ue):
		return &explained{fmt.Sprintf("%s: cannot reach the store: %s", loc, oneLine(ue.Err.Error())), err}
	}
	return &explained{fmt.Sprintf("%s: %s", loc, oneLine(err.Error())), err}
}

// explained is Explain's line for err, which it wraps: errors.Is and
// errors.As still find what the store's error was (a timeout, a refused
// connection, minio's ErrorResponse).
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// IsNotFound reports whether err says the object asked for does not exist.
func IsNotFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == minio.NoSuchKey || code == "NotFound"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// defaultCredentialsFile is AWS_SHARED_CREDENTIALS_FILE, else
// ~/.aws/credentials; "" with neither a variable nor a home.
func defaultCredentialsFile(env map[string]string) string {
	if file := env["AWS_SHARED_CREDENTIALS_FILE"]; file != "" {
		return file
	}
	if home := env["HOME"]; home != "" {
		return filepath.Join(home, ".aws", "credentials")
	}
	return ""
}

// fileError is what an error reading a credentials file may show: the
// file's own error (no such file, permission denied) or the reader's words
// about the profile ("section "x" does not exist", "profile has ..."). The
// INI parser's errors quote the line it could not read, which may hold the
// secret, so they are replaced (as the parser's errors are not typed, they
// are told apart by those of the profile, which are).
func fileError(err error) error {
	var pe *fs.PathError
	switch msg := err.Error(); {
	case errors.As(err, &pe):
		return pe.Err
	case strings.HasPrefix(msg, "section ") && strings.HasSuffix(msg, " does not exist"),
		strings.HasPrefix(msg, "profile has "):
		return errors.New(oneLine(msg))
	}
	return errors.New("the file does not parse as a credentials file (INI: [profile] lines, then key = value lines); its lines are not shown, as they may hold a secret")
}
