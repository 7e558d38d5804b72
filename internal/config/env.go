package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// envConfig names the configuration file in the environment.
const envConfig = envPrefix + "CONFIG"

// Reserved are WEFT_* variables that are not keys: the process engine's
// protocol with its workers. They are ignored without a word, and so are
// the test suite's switches, WEFT_TEST_*.
var Reserved = []string{"WEFT_WORKER", "WEFT_WORKER_ROOT", "WEFT_WORKER_CONFIG"}

// testPrefix starts the names of the test suite's switches.
const testPrefix = envPrefix + "TEST_"

// envMap returns the WEFT_* variables of env (later ones win, as getenv).
func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, envPrefix) {
			m[k] = v
		}
	}
	return m
}

// loadEnv sets the keys named in env.
func (c *Config) loadEnv(env map[string]string) []error {
	var errs []error
	known := map[string]bool{envConfig: true}
	for i := range Keys {
		k := &Keys[i]
		known[k.Env()] = true
		s, ok := env[k.Env()]
		if !ok {
			continue
		}
		src := Source{Kind: FromEnv, Name: k.Env()}
		v, err := parseString(k.field(c), s)
		if err != nil {
			errs = append(errs, &Error{Source: src, Key: k.Name, Msg: err.Error()})
			continue
		}
		set(k.field(c), v)
		c.sources[k.Name] = src
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if known[name] || slices.Contains(Reserved, name) || strings.HasPrefix(name, testPrefix) {
			continue
		}
		if guess := closest(name, slices.Collect(maps.Keys(known)), len(envPrefix)); guess != "" {
			errs = append(errs, &Error{Source: Source{Kind: FromEnv, Name: name},
				Msg: fmt.Sprintf("unknown variable (did you mean %s?)", guess)})
			continue
		}
		c.Ignored = append(c.Ignored, name)
	}
	return errs
}

// Closest returns the name among names nearest to s if it is close enough
// to be a typo of it, or "": "did you mean" for flags and commands.
func Closest(s string, names []string) string { return closest(s, names, 0) }

// closest returns the name among names nearest to s if it is close enough
// to be a typo of it (at most one edit for names of up to four bytes after
// a common prefix of the given length, two for longer ones), or "".
func closest(s string, names []string, prefix int) string {
	if len(s) > 64 {
		return ""
	}
	best, bestD := "", 3
	for _, n := range slices.Sorted(slices.Values(names)) {
		limit := 2
		if len(n) <= prefix+4 {
			limit = 1
		}
		if d := distance(s, n); d <= limit && d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// distance is the edit distance between a and b in bytes, counting the
// swap of two neighbours as one edit (optimal string alignment).
func distance(a, b string) int {
	older, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], older[j-2]+1)
			}
		}
		older, prev, cur = prev, cur, older
	}
	return prev[len(b)]
}
