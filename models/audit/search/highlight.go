package search

import "strings"

// Segment is a piece of a text shown in results; Match marks the pieces a
// purpose search matched.
type Segment struct {
	Text  string
	Match bool
}

// Highlight splits text into segments and marks what terms matched, the
// way the index matches them: each phrase's words in order, as whole
// words, the last one also as a prefix when the term says so. A phrase is
// marked from its first word to its last, separators included, so
// INC-4211 reads as one match. Without terms the text is one unmarked
// segment. The segments are plain text: escaping is the template's.
func Highlight(text string, terms []TextTerm) []Segment {
	if text == "" {
		return nil
	}
	words := wordSpans(text)
	marked := make([]bool, len(text))
	found := false
	for _, t := range terms {
		n := len(t.Words)
		if n == 0 {
			continue
		}
		for i := 0; i+n <= len(words); i++ {
			if !phraseAt(words[i:i+n], t) {
				continue
			}
			for b := words[i].start; b < words[i+n-1].end; b++ {
				marked[b] = true
			}
			found = true
		}
	}
	if !found {
		return []Segment{{Text: text}}
	}
	var out []Segment
	start := 0
	for b := 1; b <= len(text); b++ {
		if b == len(text) || marked[b] != marked[start] {
			out = append(out, Segment{Text: text[start:b], Match: marked[start]})
			start = b
		}
	}
	return out
}

// wordSpan is one word of a text: its byte range and lower-case form.
type wordSpan struct {
	start, end int
	lower      string
}

// wordSpans finds the words of s as textWords does, keeping where each is.
func wordSpans(s string) []wordSpan {
	var out []wordSpan
	start := -1
	for i, r := range s {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, wordSpan{start: start, end: i, lower: strings.ToLower(s[start:i])})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, wordSpan{start: start, end: len(s), lower: strings.ToLower(s[start:])})
	}
	return out
}

// phraseAt reports whether words (as many as t has) are t's phrase.
func phraseAt(words []wordSpan, t TextTerm) bool {
	for j, w := range t.Words {
		got := words[j].lower
		if t.Prefix && j == len(t.Words)-1 {
			if !strings.HasPrefix(got, w) {
				return false
			}
			continue
		}
		if got != w {
			return false
		}
	}
	return true
}
