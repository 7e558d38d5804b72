package s3conn

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestParseURL(t *testing.T) {
	good := map[string]Location{
		"s3://sites":           {Bucket: "sites"},
		"s3://sites/":          {Bucket: "sites"},
		"s3://sites/www":       {Bucket: "sites", Prefix: "www"},
		"s3://sites/www/":      {Bucket: "sites", Prefix: "www"},
		"s3://my.sites/a/b/c":  {Bucket: "my.sites", Prefix: "a/b/c"},
		"s3://sites/.weft-ok/": {Bucket: "sites", Prefix: ".weft-ok"},
	}
	for in, want := range good {
		got, err := ParseURL(in)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if again, err := ParseURL(got.String()); err != nil || again != got {
			t.Errorf("ParseURL(%q.String()) = %+v, %v", in, again, err)
		}
	}
	bad := map[string]string{
		"sites/www":           "not an s3:// URL",
		"http://sites/www":    "not an s3:// URL",
		"S3://sites":          "not an s3:// URL",
		"s3://":               "names no bucket",
		"s3:///www":           "names no bucket",
		"s3://ab/www":         "bucket name",
		"s3://Sites/www":      "bucket name",
		"s3://si_tes/www":     "bucket name",
		"s3://sites/../etc":   "prefix",
		"s3://sites/a/./b":    "prefix",
		"s3://sites/a//b":     "prefix",
		"s3://sites//a":       "prefix",
		"s3://sites//":        "prefix", // one trailing slash is allowed, not an empty segment
		"s3://sites/www//":    "prefix",
		`s3://sites/a\b`:      "prefix",
		"s3://sites/a?x=1":    "prefix",
		"s3://sites/a#frag":   "prefix",
		"s3://sites/a\x00b":   "prefix",
		"s3://sites/www/../x": "prefix",
	}
	for in, want := range bad {
		if _, err := ParseURL(in); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseURL(%q): %v; want one line with %q", in, err, want)
		}
	}
	if !IsURL("s3://x") || IsURL("./s3:") {
		t.Error("IsURL")
	}
}

// TestClient: the endpoint is checked, and credentials come from the
// environment, else a named file, else the default file, else an error.
func TestClient(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = fileid\naws_secret_access_key = filesecret\n\n[other]\naws_access_key_id = otherid\naws_secret_access_key = othersecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noHome := []string{"HOME=" + filepath.Join(dir, "nohome")}
	cases := []struct {
		name   string
		o      Options
		id     string // the access key found
		errHas string
	}{
		{"Env", Options{Endpoint: "http://127.0.0.1:7070", Env: []string{"AWS_ACCESS_KEY_ID=envid", "AWS_SECRET_ACCESS_KEY=envsecret"}}, "envid", ""},
		{"FileOverEnv", Options{CredentialsFile: creds, Env: []string{"AWS_ACCESS_KEY_ID=envid", "AWS_SECRET_ACCESS_KEY=envsecret"}}, "fileid", ""},
		{"FileProfile", Options{CredentialsFile: creds, Profile: "other"}, "otherid", ""},
		{"FileProfileFromEnv", Options{CredentialsFile: creds, Env: []string{"AWS_PROFILE=other"}}, "otherid", ""},
		// A profile asked for on the command line wins over keys in the
		// environment, as the AWS CLI's --profile does.
		{"ProfileFlagOverEnv", Options{Profile: "other", Env: append(noHome, "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_ACCESS_KEY_ID=envid", "AWS_SECRET_ACCESS_KEY=envsecret")}, "otherid", ""},
		{"ProfileFlagNoFile", Options{Profile: "other", Env: append(noHome, "AWS_ACCESS_KEY_ID=envid", "AWS_SECRET_ACCESS_KEY=envsecret")}, "", "--s3-profile other: no shared credentials file"},
		{"SharedFileFromEnv", Options{Env: append(noHome, "AWS_SHARED_CREDENTIALS_FILE="+creds)}, "fileid", ""},
		{"NoCredentials", Options{Env: noHome}, "", "no s3 credentials"},
		{"HalfEnv", Options{Env: []string{"AWS_ACCESS_KEY_ID=envid"}}, "", "go together"},
		{"MissingFile", Options{CredentialsFile: filepath.Join(dir, "nope")}, "", "no such file or directory"},
		{"MissingProfile", Options{CredentialsFile: creds, Profile: "nobody"}, "", "profile nobody"},
		{"NoScheme", Options{Endpoint: "127.0.0.1:7070", Env: []string{"AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=b"}}, "", "want http://HOST:PORT"},
		{"FTP", Options{Endpoint: "ftp://127.0.0.1", Env: []string{"AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=b"}}, "", "want http://HOST:PORT"},
		{"Path", Options{Endpoint: "http://127.0.0.1/bucket", Env: []string{"AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=b"}}, "", "want http://HOST:PORT"},
		{"EndpointFromEnv", Options{Env: []string{"AWS_ENDPOINT_URL=nohost", "AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=b"}}, "", `s3 endpoint "nohost"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			c, err := o.Client()
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Client: %v; want one line with %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, err := c.GetCreds()
			if err != nil || v.AccessKeyID != tc.id {
				t.Errorf("access key %q, %v; want %q", v.AccessKeyID, err, tc.id)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	loc := Location{Bucket: "sites", Prefix: "www"}
	cases := map[string]struct {
		err  error
		want string
	}{
		"NoSuchBucket": {minio.ErrorResponse{Code: minio.NoSuchBucket, StatusCode: 404}, `s3://sites/www: bucket "sites" does not exist`},
		"Forbidden":    {minio.ErrorResponse{Code: "AccessDenied", Message: "Access\nDenied.", StatusCode: 403}, "the store refused the credentials (AccessDenied: Access Denied.)"},
		"BadKey":       {minio.ErrorResponse{Code: "InvalidAccessKeyId", StatusCode: 403}, "the store refused the credentials"},
		"Other":        {minio.ErrorResponse{Code: "InternalError", Message: "boom", StatusCode: 500}, "s3://sites/www: InternalError: boom"},
		"Refused":      {&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}, "s3://sites/www: cannot reach the store: connection refused"},
	}
	for name, tc := range cases {
		if got := Explain(tc.err, loc); got == nil || got.Error() != tc.want && !strings.Contains(got.Error(), tc.want) {
			t.Errorf("%s: Explain = %v, want %q", name, got, tc.want)
		}
	}
	// The line wraps the store's error, so callers can still tell what it was.
	refused := &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}
	if err := Explain(refused, loc); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Explain(refused) = %v, which does not wrap ECONNREFUSED", err)
	}
	if err := Explain(minio.ErrorResponse{Code: minio.NoSuchBucket}, loc); minio.ToErrorResponse(errors.Unwrap(err)).Code != minio.NoSuchBucket {
		t.Errorf("Explain(NoSuchBucket) = %v, which does not wrap the store's answer", err)
	}
	if Explain(nil, loc) != nil {
		t.Error("Explain(nil) != nil")
	}
	if !IsNotFound(minio.ErrorResponse{Code: minio.NoSuchKey}) || IsNotFound(errors.New("x")) {
		t.Error("IsNotFound")
	}
}

// TestClientErrorsHideSecrets: an error about the endpoint or the
// credentials file never repeats a secret the user gave: the password of
// an endpoint's user info (credentials do not belong in it), or a line of
// a credentials file the parser could not read.
func TestClientErrorsHideSecrets(t *testing.T) {
	const secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := []string{"AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=b"}
	cases := []struct {
		name   string
		o      Options
		errHas string
	}{
		{"EndpointUserInfo", Options{Endpoint: "http://AKIDEXAMPLE:" + secret + "@127.0.0.1:7070", Env: env}, "credentials do not go in the endpoint"},
		{"EndpointUserInfoUnparsable", Options{Endpoint: "http://AKIDEXAMPLE:" + secret + "@127.0.0.1:x%zz", Env: env}, "credentials do not go in the endpoint"},
		{"EndpointFromEnvUserInfo", Options{Env: append(env, "AWS_ENDPOINT_URL=https://id:"+secret+"@s3.example.com")}, "credentials do not go in the endpoint"},
		{"NoDelimiter", Options{CredentialsFile: file("nodelim", "[default]\naws_access_key_id = id\naws_secret_access_key "+secret+"\n")}, "does not parse"},
		{"UnclosedSection", Options{CredentialsFile: file("unclosed", "[default "+secret+"\naws_access_key_id = id\n")}, "does not parse"},
		{"KeyQuote", Options{CredentialsFile: file("quote", "[default]\n`"+secret+" = x\n")}, "does not parse"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.o.Client()
			if err == nil || !strings.Contains(err.Error(), tc.errHas) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Client: %v; want one line with %q", err, tc.errHas)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// TestCheckEndpointHidesPassword: an endpoint refused for carrying a
// user and password is named without the password (it was echoed whole:
// a secret on the terminal and in logs).
func TestCheckEndpointHidesPassword(t *testing.T) {
	err := CheckEndpoint("http://key:s3cr3t-value@127.0.0.1:7070")
	if err == nil || strings.Contains(err.Error(), "s3cr3t-value") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("CheckEndpoint: %v", err)
	}
}
