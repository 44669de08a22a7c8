package mockmodel

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
)

// maxRun bounds the length, in bytes, of a stretch of text with no word
// boundary that is handed to the BPE codec in one piece. The codec's merge
// loop is quadratic in the length of a pre-tokenised piece (16 KB of
// "abab…" takes ~100 ms, 4 MiB would take hours), so a request made of one
// enormous word would otherwise pin a CPU. Ordinary text never comes close.
const maxRun = 512

// Tokenizer counts and splits text with OpenAI's cl100k_base encoding (the
// encoding of gpt-4 and gpt-3.5-turbo). It is safe for concurrent use.
//
// Counts are exactly the library's (and so tiktoken's) for any text in which every stretch of
// maxRun (512) bytes contains a word boundary (see segments) — a space
// after a word, for instance. Longer boundary-free runs (a 1 MB
// base64 blob without line breaks, a megabyte of "a") are split every 512
// bytes and each part is encoded separately, which may differ from
// tiktoken by about a token per split but keeps the cost linear. Special
// tokens such as "<|endoftext|>" are counted as the ordinary text they are
// spelled with, as tiktoken does with disallowed_special=().
type Tokenizer struct {
	codec tokenizer.Codec
}

// NewTokenizer builds a cl100k_base tokenizer. The 100k-entry vocabulary is
// built once per process by the tokenizer library itself (behind its own
// sync.Once, ~10 ms); each call here additionally compiles the split regexp
// (~50 µs) and builds the reverse vocabulary used to decode token arrays
// (~15 ms). Keep one Tokenizer and share it: Handler does.
func NewTokenizer() *Tokenizer {
	codec, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		// Only possible for an encoding the library does not ship.
		panic(fmt.Sprintf("mockmodel: cl100k_base tokenizer: %v", err))
	}
	// Decode builds its reverse vocabulary lazily, writing a field of the
	// codec on first use. Do it now, before the codec is shared, so that
	// later concurrent Decode calls only read.
	if _, err := codec.Decode([]uint{0}); err != nil {
		panic(fmt.Sprintf("mockmodel: cl100k_base tokenizer: %v", err))
	}
	return &Tokenizer{codec: codec}
}

// Tokens returns the number of cl100k_base tokens in s, with the same
// semantics as (*Tokenizer).Count.
//
// The tokenizer library does not cache codecs: tokenizer.Get builds a new
// one, recompiling its split regexp (~50 µs), on every call; only the
// vocabulary is built once per process (~10 ms, behind the library's own
// sync.Once). Tokens pays that set-up on every call and skips the decode
// warm-up of NewTokenizer. For repeated counting, keep a *Tokenizer.
func Tokens(s string) int {
	codec, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		panic(fmt.Sprintf("mockmodel: cl100k_base tokenizer: %v", err))
	}
	return (&Tokenizer{codec: codec}).Count(s)
}

// Count returns the number of cl100k_base tokens in s.
func (t *Tokenizer) Count(s string) int {
	n := 0
	segments(s, func(seg string) {
		c, err := t.codec.Count(seg)
		if err != nil {
			// The codec only fails if its regexp engine times out, and
			// it is built without a timeout.
			panic(fmt.Sprintf("mockmodel: counting tokens: %v", err))
		}
		n += c
	})
	return n
}

// Pieces returns s split into its cl100k_base tokens, as byte strings whose
// concatenation is s. A token may hold part of a multi-byte UTF-8 sequence,
// so individual pieces need not be valid UTF-8.
func (t *Tokenizer) Pieces(s string) []string {
	var out []string
	segments(s, func(seg string) {
		_, toks, err := t.codec.Encode(seg)
		if err != nil {
			panic(fmt.Sprintf("mockmodel: encoding tokens: %v", err))
		}
		out = append(out, toks...)
	})
	return out
}

// decode turns token ids back into text. It reports the first id that is
// not an ordinary cl100k_base token (out of range, or a special token).
func (t *Tokenizer) decode(ids []int) (string, error) {
	var b strings.Builder
	one := make([]uint, 1)
	for i, id := range ids {
		if id < 0 {
			return "", fmt.Errorf("token %d at index %d is negative", id, i)
		}
		one[0] = uint(id)
		// Decode one id at a time: the library concatenates strings
		// quadratically when given many at once.
		s, err := t.codec.Decode(one)
		if err != nil {
			return "", fmt.Errorf("token %d at index %d is not a cl100k_base token", id, i)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// truncate returns the longest prefix of s, cut at a token boundary, that
// is valid UTF-8 and re-tokenises to at most max tokens, and whether it had
// to cut anything. BPE is not prefix-stable in general, so the candidate
// prefix is re-counted rather than trusted.
func (t *Tokenizer) truncate(s string, max int) (string, bool) {
	pieces := t.Pieces(s)
	if len(pieces) <= max {
		return s, false
	}
	ends := make([]int, len(pieces)+1) // ends[k]: byte length of the first k pieces
	for i, p := range pieces {
		ends[i+1] = ends[i] + len(p)
	}
	for k := max; k > 0; k-- {
		p := s[:ends[k]]
		if utf8.ValidString(p) && t.Count(p) <= max {
			return p, true
		}
	}
	return "", true
}

// streamChunks splits valid UTF-8 text into its tokens, merging neighbours
// where a token ends inside a multi-byte character, so that every chunk is
// valid UTF-8 (and survives JSON encoding unchanged). It returns the chunks
// and how many tokens each holds; the chunks concatenate to s.
func (t *Tokenizer) streamChunks(s string) (chunks []string, tokens []int) {
	var cur strings.Builder
	n := 0
	for _, p := range t.Pieces(s) {
		cur.WriteString(p)
		n++
		if utf8.ValidString(cur.String()) {
			chunks = append(chunks, cur.String())
			tokens = append(tokens, n)
			cur.Reset()
			n = 0
		}
	}
	if cur.Len() > 0 { // only if s itself was not valid UTF-8
		chunks = append(chunks, cur.String())
		tokens = append(tokens, n)
	}
	return chunks, tokens
}

// segments calls fn with consecutive parts of s that can be tokenised
// independently. Normally that is all of s at once: s is cut only inside a
// stretch of more than maxRun bytes without a word boundary, every maxRun
// bytes, at a rune boundary. Text without such stretches is therefore never
// cut and is counted exactly.
//
// A word boundary here is a space or tab that follows a non-space
// character, or a CR or LF that follows a letter or digit. No cl100k_base
// pre-tokenisation piece spans such a point: letter and digit pieces end at
// a letter or digit, the punctuation piece ( ?[^\s\p{L}\p{N}]+[\r\n]*) may
// swallow trailing newlines but not spaces, and whitespace pieces start with
// the whitespace. So no piece the codec sees is much longer than maxRun,
// which bounds its quadratic merge loop.
func segments(s string, fn func(string)) {
	start := 0  // start of the segment not yet handed to fn
	anchor := 0 // last word boundary or forced cut
	var prev rune = ' '
	for i, r := range s {
		switch {
		case (r == ' ' || r == '\t') && !isSpace(prev),
			(r == '\n' || r == '\r') && (unicode.IsLetter(prev) || unicode.IsNumber(prev)):
			anchor = i
		case i-anchor >= maxRun:
			fn(s[start:i])
			start, anchor = i, i
		}
		prev = r
	}
	if start < len(s) {
		fn(s[start:])
	}
}

// isSpace reports whether r may match \s in the codec's regexp (a superset
// of it, which errs on the side of finding fewer word boundaries).
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Z, r)
}
