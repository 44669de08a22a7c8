package authz

import "strings"

// Action names and resource ids compare case-insensitively. Both are ASCII
// in practice, so only ASCII letters fold: comparisons stay allocation-free
// and no Unicode folding rule (the Kelvin sign folds to "k") can make two
// different names equal.

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// lowerASCII returns s with ASCII letters lower-cased, s itself when it has
// none to change.
func lowerASCII(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		b[i] = lowerByte(b[i])
	}
	return string(b)
}

// equalFoldASCII reports whether a and b are equal ignoring ASCII case.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

// equalLower reports whether s equals l ignoring ASCII case, l being
// lower case already. It compares from the end: names that share a long
// prefix (resource ids, actions) differ near their ends.
func equalLower(s, l string) bool {
	if len(s) != len(l) {
		return false
	}
	for i := len(l) - 1; i >= 0; i-- {
		if lowerByte(s[i]) != l[i] {
			return false
		}
	}
	return true
}

// indexLower is the index of the first instance of l in s ignoring ASCII
// case, l being lower case and non-empty, or -1.
func indexLower(s, l string) int {
	first := l[0]
	for i := 0; i+len(l) <= len(s); i++ {
		if lowerByte(s[i]) == first && equalLower(s[i:i+len(l)], l) {
			return i
		}
	}
	return -1
}

// pattern is a compiled action pattern: "*" matches any run of characters,
// "/" included; everything else matches itself, ignoring case.
type pattern struct {
	// text is the pattern as written.
	text string
	// pieces are the lower-cased literal runs between wildcards: one piece
	// means no wildcard.
	pieces []string
	// min is the total length of the pieces, the shortest match.
	min int
}

func compilePattern(p string) pattern {
	c := pattern{text: p, pieces: strings.Split(lowerASCII(p), "*")}
	for _, s := range c.pieces {
		c.min += len(s)
	}
	return c
}

// match reports whether action matches the pattern. The first piece must
// be a prefix and the last a suffix; the pieces between them are found
// left to right, each at its first place: with "*" the only wildcard,
// taking the earliest place never loses a match.
func (p *pattern) match(action string) bool {
	if len(p.pieces) == 1 {
		return equalLower(action, p.pieces[0])
	}
	if len(action) < p.min {
		return false
	}
	first, last := p.pieces[0], p.pieces[len(p.pieces)-1]
	if !equalLower(action[:len(first)], first) || !equalLower(action[len(action)-len(last):], last) {
		return false
	}
	rest := action[len(first) : len(action)-len(last)]
	for _, piece := range p.pieces[1 : len(p.pieces)-1] {
		if piece == "" {
			continue
		}
		i := indexLower(rest, piece)
		if i < 0 {
			return false
		}
		rest = rest[i+len(piece):]
	}
	return true
}

func compilePatterns(ps []string) []pattern {
	if len(ps) == 0 {
		return nil
	}
	out := make([]pattern, len(ps))
	for i, p := range ps {
		out[i] = compilePattern(p)
	}
	return out
}

func matchAny(ps []pattern, action string) bool {
	for i := range ps {
		if ps[i].match(action) {
			return true
		}
	}
	return false
}

// MatchAction reports whether action matches pattern the way a role's
// actions and ActionMatches{} do: case-insensitively, "*" matching any run
// of characters including "/". Policies compile their patterns once; this
// is for one-off checks.
func MatchAction(pattern, action string) bool {
	p := compilePattern(pattern)
	return p.match(action)
}

// trimScope drops trailing slashes; "" and "/" are the root, "/".
func trimScope(s string) string {
	for len(s) > 1 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	if s == "" {
		return "/"
	}
	return s
}

// coversLower reports whether scope ls, trimmed and lower-cased, covers
// scope t, trimmed: t is ls or lies beneath it, by whole path segments.
func coversLower(ls, t string) bool {
	if ls == "/" {
		return true
	}
	n := len(ls)
	if len(t) < n || (len(t) > n && t[n] != '/') {
		return false
	}
	return equalLower(t[:n], ls)
}

// ScopeCovers reports whether an assignment at scope applies to target:
// target is scope or lies beneath it, comparing whole path segments and
// ignoring case and trailing slashes. "/" covers everything;
// "/subscriptions/a" does not cover "/subscriptions/ab".
func ScopeCovers(scope, target string) bool {
	return coversLower(lowerASCII(trimScope(scope)), trimScope(target))
}
