package config

import (
	"errors"
	"testing"
)

// FuzzLoad: any bytes as a configuration file give an error made of
// *Error values, or a valid configuration whose check output (a file of
// its own) loads back to the same configuration. Nothing panics.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(Example()))
	f.Add([]byte("port = 1\nmax_conn = 3\n[mime]\nmd = \"text/markdown\"\n"))
	f.Add([]byte("cache_control = [\"*.txt=max-age=1\", \"/a/**=public\"]\nidle_timeout = \"1m\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := build(DefaultFile, data, nil, Options{})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			j, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("%T %v: not joined errors", err, err)
			}
			for _, e := range j.Unwrap() {
				var ce *Error
				if !errors.As(e, &ce) {
					t.Fatalf("%T %v: not an *Error", e, e)
				}
			}
			return
		}
		if errs := c.validate(nil); len(errs) > 0 {
			t.Fatalf("loaded, yet invalid: %v", errs)
		}
		out := c.Effective()
		again, err := build(DefaultFile, []byte(out), nil, Options{})
		if err != nil {
			t.Fatalf("check output does not load: %v\n%s", err, out)
		}
		if ch := Changed(c, again); len(ch) != 0 {
			t.Fatalf("check output changes %v:\n%s", ch, out)
		}
	})
}
