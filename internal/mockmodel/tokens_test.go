package mockmodel

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
)

func rawCount(t *testing.T, s string) int {
	t.Helper()
	codec, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		t.Fatal(err)
	}
	n, err := codec.Count(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCountMatchesLibraryOnOrdinaryText(t *testing.T) {
	tok := NewTokenizer()
	prose := strings.Repeat("Perimeter puts network security in front of model endpoints.\n\n"+
		"It's 2025: 12345 tokens, über-naïve 世界 🙂, x:=y+1; // done.\r\n\tIndented\n", 40)
	for _, s := range []string{
		prose,
		strings.Repeat("a", maxRun), // a boundary-free run of exactly the limit is not cut
		strings.Repeat("word ", 2000),
		strings.Repeat("abc def\n", 1000),
		strings.Repeat("(x)\n", 1000),
	} {
		if got, want := tok.Count(s), rawCount(t, s); got != want {
			t.Errorf("Count = %d, library %d for %.40q…", got, want, s)
		}
		pieces := tok.Pieces(s)
		if strings.Join(pieces, "") != s || len(pieces) != tok.Count(s) {
			t.Errorf("Pieces do not reassemble %.40q…", s)
		}
	}
}

func TestCountLongRunsStayLinear(t *testing.T) {
	tok := NewTokenizer()
	// Boundary-free runs are cut every maxRun bytes: the count may differ
	// from the library's by about a token per cut, and stays cheap.
	s := strings.Repeat("ab", 4096) // 8 KiB: the library alone is still quick here
	got, want := tok.Count(s), rawCount(t, s)
	if cuts := len(s) / maxRun; got < want-cuts || got > want+cuts {
		t.Errorf("Count = %d, library %d, allowed drift %d", got, want, cuts)
	}

	// The guarantee behind the linear cost: a boundary-free run reaches
	// the codec in parts of at most maxRun bytes (plus one rune).
	for _, s := range []string{
		strings.Repeat("a", 1<<20),       // one 1 MiB word
		strings.Repeat(" ", 1<<20),       // whitespace
		strings.Repeat("!", 1<<20),       // punctuation
		strings.Repeat("é", 1<<19),       // multi-byte letters
		strings.Repeat("1234", 1<<18),    // digits
		strings.Repeat("?\n", 1<<19),     // punctuation swallowing newlines
		strings.Repeat("a\u00a0", 1<<19), // no-break spaces
	} {
		longest := 0
		segments(s, func(p string) { longest = max(longest, len(p)) })
		if longest > maxRun+utf8.UTFMax {
			t.Errorf("%.8q…: a %d-byte part reaches the codec", s, longest)
		}
	}

	// And in practice: 64 KiB of one letter, which unguarded takes ~2 s
	// (minutes under -race), takes a few ms (a fraction of a second under
	// -race).
	start := time.Now()
	if n := tok.Count(strings.Repeat("a", 64<<10)); n == 0 {
		t.Error("no tokens")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("64 KiB word took %v", d)
	}
}

func TestSegmentsReassemble(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("é", 3000), strings.Repeat("ab cd", 999) + strings.Repeat("x", 2000)} {
		var parts []string
		segments(s, func(p string) { parts = append(parts, p) })
		if strings.Join(parts, "") != s {
			t.Errorf("segments of %.20q… do not reassemble", s)
		}
		for _, p := range parts {
			if !utf8.ValidString(p) {
				t.Errorf("segment cut inside a rune: %.20q…", p)
			}
		}
	}
}

func TestTruncate(t *testing.T) {
	tok := NewTokenizer()
	for _, s := range []string{
		"The quick brown fox jumps over the lazy dog.",
		"世界🙂🙂 ünïcödé 你好, 世界!",
		"supercalifragilisticexpialidocious antidisestablishmentarianism",
	} {
		total := tok.Count(s)
		for max := 1; max <= total+1; max++ {
			got, cut := tok.truncate(s, max)
			if cut != (max < total) {
				t.Errorf("truncate(%q, %d): cut %v", s, max, cut)
			}
			if !strings.HasPrefix(s, got) || !utf8.ValidString(got) || tok.Count(got) > max {
				t.Errorf("truncate(%q, %d) = %q (%d tokens)", s, max, got, tok.Count(got))
			}
		}
	}
}

func TestStreamChunks(t *testing.T) {
	tok := NewTokenizer()
	for _, s := range []string{"plain ascii words", "世界🙂🙂 ünïcödé", ""} {
		chunks, tokens := tok.streamChunks(s)
		sum := 0
		for i, c := range chunks {
			if !utf8.ValidString(c) || c == "" {
				t.Errorf("chunk %d %q", i, c)
			}
			sum += tokens[i]
		}
		if strings.Join(chunks, "") != s || sum != tok.Count(s) {
			t.Errorf("chunks %q (%d tokens) for %q (%d)", chunks, sum, s, tok.Count(s))
		}
	}
}
