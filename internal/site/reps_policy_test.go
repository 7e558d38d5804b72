// Regression tests from an adversarial review of the representations
// (issue 8). A test's comment describes the defect it caught, in the code
// as it was then; every one passes since the fixes that followed.

package site

import (
	"testing"
)

func policySite(t *testing.T, rules ...CacheRule) *Site {
	t.Helper()
	return openReview(t, Config{Root: t.TempDir(), CacheControl: rules})
}

// TestFingerprintFalsePositives: names that carry no fingerprint of
// their content, are commonly replaced in place, and are held immutable
// for a year (policy.go fingerprinted: any last dot/dash segment of 8+
// [0-9A-Za-z_] with a letter and a digit). A wrong immutable is the costly
// error (the function's own comment says so): browsers and CDNs keep the
// old bytes for a year with no way to purge them from clients.
func TestFingerprintFalsePositives(t *testing.T) {
	st := policySite(t)
	for _, name := range []string{
		"img/og-image-1200x630.png",                    // the Open Graph image size; replaced when the page changes
		"wp-content/uploads/2024/05/hero-1024x683.jpg", // WordPress's resized copies: NAME-WxH.ext, regenerated in place
		"img/banner-1920x1080.webp",
		"downloads/report-Q3FY2024.pdf", // a quarter and fiscal year
		"downloads/invoice-INV00123.pdf",
		"photos/holiday-IMG_20240101.jpg", // a camera's name after a dash
		"docs/manual-v2release.pdf",
		"files/price-list.2024edition.pdf",
	} {
		if cc := st.cacheControl(name); cc == Immutable {
			t.Errorf("%s: %q, though nothing in its name changes with its content", name, cc)
		}
	}
}

// TestFingerprintMisses: real bundler output the heuristic
// recognises, and the hashes it misses on purpose (no digit, a '-' inside,
// all digits: words, dates and dimensions look like those), which cost a
// revalidation per use, never staleness.
func TestFingerprintMisses(t *testing.T) {
	st := policySite(t)
	for _, tc := range []struct{ name, who string }{
		{"static/js/787.2a5b6c7d.chunk.js", "create-react-app 5: [name].[contenthash:8].chunk.js"},
		{"static/css/main.3f9a1c2b.chunk.css", "create-react-app 3/4"},
		{"_next/static/css/a1b2c3d4e5f6a7b8.css", "Next.js CSS: [contenthash].css, no separator"},
		{"dist/3f9a1c2b4d5e6f708192.js", "webpack [contenthash].js"},
		{"static/js/main.3f9a1c2b.js.map", "source map of a fingerprinted bundle"},
	} {
		if cc := st.cacheControl(tc.name); cc != Immutable {
			t.Errorf("%s (%s): %q", tc.name, tc.who, cc)
		}
	}
	for _, tc := range []struct{ name, who string }{
		{"assets/index-B-x3_Ab9.js", "Vite/Rollup 8-char base64url hash containing '-' (~12% of hashes)"},
		{"assets/index-BqKxZwYe.js", "Vite/Rollup hash without a digit (~25% of hashes)"},
		{"out/app-ZGZHJQCA.js", "esbuild [name]-[hash]: base32 without a digit (~19%)"},
		{"dist/index.97253481.js", "Parcel 8-hex hash that is all digits (~2%)"},
	} {
		if cc := st.cacheControl(tc.name); cc != NoCache {
			t.Errorf("%s (%s): %q, want the safe default", tc.name, tc.who, cc)
		}
	}
}

// TestRelativeRuleNeverMatches: --cache-control 'assets/**=...'
// (a "/" but no leading one, as most users write it) is accepted and never
// matches: the path it is matched against always starts with "/"
// (policy.go cacheControl: target = "/" + name). Either anchor such globs or
// reject them in checkRules.
func TestRelativeRuleNeverMatches(t *testing.T) {
	st := policySite(t, CacheRule{Glob: "assets/**", Value: "public, max-age=600"}, CacheRule{Glob: "assets/*.css", Value: "public, max-age=60"})
	for _, name := range []string{"assets/site.css", "assets/img/logo.png"} {
		if cc := st.cacheControl(name); cc != "public, max-age=600" && cc != "public, max-age=60" {
			t.Errorf("%s: %q: the rule 'assets/**' was accepted and silently never matches", name, cc)
		}
	}
}

// TestFingerprintRecognised: what the heuristic gets right. Checked: true.
func TestFingerprintRecognised(t *testing.T) {
	st := policySite(t)
	for _, name := range []string{"app.3f9a1c2b.js", "assets/main-DlX9aZq1.css", "_next/static/chunks/framework-2c79e2a64abdb08b.js", "main.8e2d1a7c9b3f4e5d6a7b.js", "style.min.4b8c2d1e3f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c.css"} {
		if cc := st.cacheControl(name); cc != Immutable {
			t.Errorf("%s: %q", name, cc)
		}
	}
	for _, name := range []string{"jquery-3.7.1.min.js", "report-20241201.pdf", "jquery-dashboard.js", "favicon-32x32.png", "index.html", "a/b/README", "roboto-v30-latin-regular.woff2"} {
		if cc := st.cacheControl(name); cc == Immutable {
			t.Errorf("%s: %q", name, cc)
		}
	}
}
