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
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" && (!fs.ValidPath(prefix) || strings.ContainsAny(prefix, "\\\x00?#")) {
		return Location{}, fmt.Errorf("%q: prefix %q: want slash-separated names, no empty, . or .. one", s, prefix)
	}
	return Location{Bucket: bucket, Prefix: prefix}, nil
}

// Options say how to reach the store. The zero value is Amazon S3 with
// credentials and region from the environment.
type Options struct {
	Endpoint        string // http://HOST:PORT or https://HOST[:PORT]; "" for AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else Amazon S3
	Region          string // "" for AWS_REGION, AWS_DEFAULT_REGION, else asked of the store
	PathStyle       bool   // address buckets as HOST/BUCKET rather than BUCKET.HOST
	CredentialsFile string // a shared credentials file (INI, as ~/.aws/credentials)
	Profile         string // its profile; "" for AWS_PROFILE, else "default"
	Retries         int    // attempts per request, transient errors retried; 0 for 5

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

// Request bounds: a store that accepts connections but does not answer
// fails a request after timeout, and one attempt of a few.
const (
	timeout = time.Minute
	retries = 5
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
	tr.ResponseHeaderTimeout = timeout
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
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		if err == nil && u.User != nil {
			endpoint = u.Redacted() // no password in the message
		}
		return nil, fmt.Errorf("s3 endpoint %q: want http://HOST:PORT or https://HOST[:PORT]", endpoint)
	}
	return u, nil
}

// credentials are the file's when one is named, else the environment's,
// else those of the default shared file (AWS_SHARED_CREDENTIALS_FILE or
// ~/.aws/credentials) when it exists.
func (o Options) credentials(env map[string]string) (*credentials.Credentials, error) {
	profile := firstOf(o.Profile, env["AWS_PROFILE"], "default")
	file := o.CredentialsFile
	if file == "" {
		id := firstOf(env["AWS_ACCESS_KEY_ID"], env["AWS_ACCESS_KEY"])
		secret := firstOf(env["AWS_SECRET_ACCESS_KEY"], env["AWS_SECRET_KEY"])
		switch {
		case id != "" && secret != "":
			return credentials.NewStaticV4(id, secret, env["AWS_SESSION_TOKEN"]), nil
		case id != "" || secret != "":
			return nil, errors.New("s3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together; one is not set")
		}
		file = env["AWS_SHARED_CREDENTIALS_FILE"]
		if file == "" {
			if home := env["HOME"]; home != "" {
				file = filepath.Join(home, ".aws", "credentials")
			}
		}
		if _, err := os.Stat(file); file == "" || err != nil {
			return nil, errors.New("no s3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give --s3-credentials-file")
		}
	}
	creds := credentials.NewFileAWSCredentials(file, profile)
	v, err := creds.GetWithContext(&credentials.CredContext{})
	if err != nil {
		return nil, fmt.Errorf("s3 credentials from %s, profile %s: %w", file, profile, unwrapPath(err))
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
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == minio.NoSuchBucket:
		return fmt.Errorf("%s: bucket %q does not exist", loc, loc.Bucket)
	case resp.StatusCode == http.StatusForbidden, resp.Code == "InvalidAccessKeyId", resp.Code == "SignatureDoesNotMatch",
		resp.Code == "InvalidToken", resp.Code == "ExpiredToken",
		resp.Code == "XAdminUserNotFound": // versitygw's answer (404) to an unknown access key
		return fmt.Errorf("%s: the store refused the credentials (%s: %s)", loc, resp.Code, oneLine(resp.Message))
	case resp.Code != "":
		return fmt.Errorf("%s: %s: %s", loc, resp.Code, oneLine(resp.Message))
	}
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: cannot reach the store: connection refused", loc)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s: the store did not answer in time", loc)
	case errors.As(err, &ue):
		return fmt.Errorf("%s: cannot reach the store: %s", loc, oneLine(ue.Err.Error()))
	}
	return fmt.Errorf("%s: %s", loc, oneLine(err.Error()))
}

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

// unwrapPath is err without the operation and path of an *fs.PathError,
// which the message names already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
