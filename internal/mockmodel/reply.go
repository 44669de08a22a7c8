package mockmodel

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// pangram ends every reply, so that replies are long enough to exercise
// max_tokens and streaming even for short prompts.
const pangram = "The quick brown fox jumps over the lazy dog."

const (
	maxQuoteWords = 24  // words of the prompt quoted in a reply
	maxQuoteBytes = 160 // and at most this many bytes of them
)

// chatReply is the assistant's answer to a conversation whose last user
// message (or, without one, last message) says last.
func chatReply(model string, messages int, last string) string {
	said := "You said nothing."
	if q := quote(last, false); q != "" {
		said = "You said: \"" + q + "\"."
	}
	return fmt.Sprintf("%s I am %s, the mock model built into Perimeter. I run no neural network: this reply is derived deterministically from the %s you sent. %s",
		said, model, plural(messages, "message"), pangram)
}

// completionReply continues a text-completion prompt.
func completionReply(model, prompt string, promptTokens int) string {
	about := "an empty prompt"
	if q := quote(prompt, true); q != "" {
		about = fmt.Sprintf("a %d-token prompt ending \"%s\"", promptTokens, q)
	}
	return fmt.Sprintf(" ... and so %s, the mock model built into Perimeter, continues %s. %s", model, about, pangram)
}

// quote condenses text to one line of at most maxQuoteWords words and
// maxQuoteBytes bytes, from the start of text or, if fromEnd, its end,
// marking omissions with "...".
func quote(text string, fromEnd bool) string {
	words := strings.Fields(strings.ToValidUTF8(text, "\uFFFD"))
	cut := len(words) > maxQuoteWords
	if cut {
		if fromEnd {
			words = words[len(words)-maxQuoteWords:]
		} else {
			words = words[:maxQuoteWords]
		}
	}
	q := strings.Join(words, " ")
	if len(q) > maxQuoteBytes {
		cut = true
		if fromEnd {
			i := len(q) - maxQuoteBytes
			for i < len(q) && !utf8.RuneStart(q[i]) {
				i++
			}
			q = q[i:]
		} else {
			i := maxQuoteBytes
			for i > 0 && !utf8.RuneStart(q[i]) {
				i--
			}
			q = q[:i]
		}
	}
	if !cut || q == "" {
		return q
	}
	if fromEnd {
		return "..." + q
	}
	return q + "..."
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// generation is one generated choice after stop sequences and max_tokens.
type generation struct {
	text   string
	finish string // "stop" or "length"
	tokens int    // cl100k_base tokens of text
}

// generate applies stop sequences and the token limit to a full reply. A
// stop sequence ends the text just before its first occurrence (and is not
// returned), finishing with "stop"; a reply cut by max_tokens finishes with
// "length".
func (s *server) generate(full string, p commonParams) generation {
	text, finish := full, "stop"
	for _, stop := range p.stops {
		if i := strings.Index(text, stop); i >= 0 {
			text = text[:i]
		}
	}
	if p.maxTokens > 0 {
		if t, cut := s.tok.truncate(text, p.maxTokens); cut {
			text, finish = t, "length"
		}
	}
	return generation{text: text, finish: finish, tokens: s.tok.Count(text)}
}
