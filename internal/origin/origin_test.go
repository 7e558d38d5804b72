package origin

import "testing"

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ root, bucket, prefix string }{
		{"s3://bucket", "bucket", ""},
		{"s3://bucket/", "bucket", ""},
		{"s3://bucket/site", "bucket", "site"},
		{"s3://bucket/a/b/", "bucket", "a/b"},
	} {
		b, p, err := ParseURL(tc.root)
		if err != nil || b != tc.bucket || p != tc.prefix {
			t.Errorf("%s: %q %q %v, want %q %q", tc.root, b, p, err, tc.bucket, tc.prefix)
		}
	}
	for _, root := range []string{"s3://", "s3://ab", "s3://b%20ucket/x", "s3://bucket/a/../b", "s3://bucket/a//b", "s3://bucket/./a", `s3://bucket/a\b`, "http://bucket/x", "/srv/www"} {
		if _, _, err := ParseURL(root); err == nil {
			t.Errorf("%s: accepted", root)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, name := range []string{".", "a", "a/b.txt", ".well-known/x", ".weftish"} {
		if checkName(name) != nil {
			t.Errorf("%q refused", name)
		}
	}
	for _, name := range []string{"", "/a", "a/", "a//b", "../a", "a/../b", "./a", `a\b`, "a\x00b", ".weft", ".weft/current", ".weft/objects/x"} {
		if checkName(name) == nil {
			t.Errorf("%q accepted", name)
		}
	}
}
