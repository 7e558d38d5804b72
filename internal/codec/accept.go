package codec

// Accept is a client's Accept-Encoding (RFC 9110 §12.5.3), parsed: the
// weight, in thousandths, it gives each coding. Parsing and choosing
// allocate nothing.
type Accept struct {
	q    [N]int16 // weight of each coding listed by name; -1 when not listed
	star int16    // weight of "*"; -1 when absent
}

// ParseAccept parses the value of an Accept-Encoding field; present tells
// whether the request had one at all. Without the field, only identity is
// chosen (as nginx and Caddy do: a client that says nothing, curl without
// --compressed for one, expects the bytes of the file). An empty value
// asks for identity too. Unknown codings are ignored, "x-gzip" is gzip
// (§8.4.1.3), and a member whose weight is malformed is skipped.
func ParseAccept(h []byte, present bool) Accept {
	a := Accept{q: [N]int16{-1, -1, -1, -1}, star: -1}
	if !present {
		a.q[Identity] = 1000
		for _, c := range Encoded {
			a.q[c] = 0
		}
		return a
	}
	a.Add(h)
	return a
}

// Add parses one more Accept-Encoding field line of the same request
// into a: several lines mean their comma-joined list (RFC 9110 §5.3).
func (a *Accept) Add(h []byte) {
	for len(h) > 0 {
		var member []byte
		member, h, _ = cut(h, ',')
		name, params, _ := cut(member, ';')
		name = trim(name)
		if len(name) == 0 {
			continue
		}
		w, ok := weight(params)
		if !ok {
			continue
		}
		var c Coding
		switch {
		case len(name) == 1 && name[0] == '*':
			if a.star < 0 {
				a.star = w
			}
			continue
		case equalFold(name, "br"):
			c = Brotli
		case equalFold(name, "zstd"):
			c = Zstd
		case equalFold(name, "gzip"), equalFold(name, "x-gzip"):
			c = Gzip
		case equalFold(name, "identity"):
			c = Identity
		default:
			continue
		}
		if a.q[c] < 0 {
			a.q[c] = w
		}
	}
}

// Weight is the weight the client gives c, in thousandths: as listed, else
// that of "*", else 0, except identity, which is acceptable unless
// excluded by name or by "*" (§12.5.3) and then ranks below every coding
// the client lists: 1.
func (a Accept) Weight(c Coding) int16 {
	switch {
	case a.q[c] >= 0:
		return a.q[c]
	case a.star >= 0:
		return a.star
	case c == Identity:
		return 1
	}
	return 0
}

// Choose returns the coding to send among those available (bit 1<<c set
// for each coding c the server has or can make; identity always is): the
// one the client weighs highest, the server's preference (Encoded) among
// equals, and a coding over identity at equal weight. When the client
// accepts nothing available, identity (RFC 9110 allows a 406; sending the
// file is more useful).
func (a Accept) Choose(avail uint8) Coding {
	best, bw := Identity, int16(0)
	for _, c := range Encoded {
		if avail&(1<<c) == 0 {
			continue
		}
		if w := a.Weight(c); w > bw {
			best, bw = c, w
		}
	}
	if best != Identity && bw >= a.Weight(Identity) {
		return best
	}
	return Identity
}

// Wants reports whether the client accepts c at all.
func (a Accept) Wants(c Coding) bool { return a.Weight(c) > 0 }

// weight parses the parameters of a member (";q=0.5"), returning 1000 when
// there is no q. Parameters other than q are ignored.
func weight(params []byte) (int16, bool) {
	w := int16(1000)
	for len(params) > 0 {
		var p []byte
		p, params, _ = cut(params, ';')
		p = trim(p)
		if len(p) == 0 {
			continue
		}
		name, value, hasValue := cut(p, '=')
		if !equalFold(trim(name), "q") {
			continue // another parameter: ignored
		}
		if !hasValue || len(name) != 1 || len(value) == 0 || value[0] == ' ' || value[0] == '\t' {
			return 0, false // "q = 0" and the like: malformed, the member is skipped
		}
		v, ok := qvalue(value)
		if !ok {
			return 0, false
		}
		w = v
	}
	return w, true
}

// qvalue parses "0", "0.5", "1", "1.000" (RFC 9110 §12.4.2) into
// thousandths.
func qvalue(b []byte) (int16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] != '0' && b[0] != '1') {
		return 0, false
	}
	whole := b[0] == '1'
	if len(b) == 1 {
		if whole {
			return 1000, true
		}
		return 0, true
	}
	if b[1] != '.' {
		return 0, false
	}
	var v int16
	digits := b[2:]
	for i := 0; i < 3; i++ {
		v *= 10
		if i < len(digits) {
			d := digits[i]
			if d < '0' || d > '9' || (whole && d != '0') {
				return 0, false
			}
			v += int16(d - '0')
		}
	}
	if whole {
		return 1000, true
	}
	return v, true
}

func cut(b []byte, sep byte) (before, after []byte, found bool) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
