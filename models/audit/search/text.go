package search

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/countersign/countersign/models"
)

// Limits of a purpose search, so one query cannot make the database do
// unbounded work.
const (
	maxTextLen     = 200
	maxTextTerms   = 16
	minPrefixRunes = 2
)

// TextTerm is one part of a purpose search: a phrase of one or more words
// that must appear in order, the last one possibly as a prefix.
type TextTerm struct {
	// Words are lower-case runs of letters, digits and marks.
	Words []string
	// Prefix makes the last word match any word it begins.
	Prefix bool
}

// ParseText reads a purpose search as people type it: words (all must
// appear), "quoted phrases" (words in that order), and a trailing * on a
// word, also at the end of a phrase, for a prefix (deplo*, "db sec*").
// Nothing else has a meaning: search-engine
// operators (OR, NOT, NEAR, parentheses, column filters, -) and SQL are
// words or separators like any other text, because the query sent to the
// database is built from the words alone and never from the user's text.
// An empty string is no filter (nil terms); text without any letter or digit
// is an error, as are over-long queries.
func ParseText(s string) ([]TextTerm, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if !utf8.ValidString(s) {
		return nil, models.Invalid("purpose", "is not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(s); n > maxTextLen {
		return nil, models.Invalid("purpose", fmt.Sprintf("is %d characters long; at most %d are searched", n, maxTextLen))
	}
	var terms []TextTerm
	rest := s
	for rest != "" {
		var chunk string
		quoted := false
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				// An unclosed quote runs to the end, as search boxes do.
				chunk, rest = rest[1:], ""
			} else {
				chunk, rest = rest[1:1+end], rest[2+end:]
			}
			quoted = true
		} else {
			end := strings.IndexAny(rest, " \t\r\n\"")
			if end < 0 {
				chunk, rest = rest, ""
			} else {
				chunk, rest = rest[:end], rest[end:]
			}
			if rest != "" && rest[0] != '"' {
				rest = rest[1:]
			}
		}
		prefix := strings.HasSuffix(chunk, "*")
		words := textWords(chunk)
		if len(words) == 0 {
			continue
		}
		if prefix && !endsWithWord(strings.TrimRight(chunk, "*")) {
			prefix = false
		}
		if prefix && utf8.RuneCountInString(words[len(words)-1]) < minPrefixRunes {
			return nil, models.Invalid("purpose", fmt.Sprintf("prefix %q is too short: give at least %d letters before *", words[len(words)-1]+"*", minPrefixRunes))
		}
		if quoted || len(words) == 1 || prefix {
			// A chunk such as INC-4211 splits into words that must stay
			// together, so it is a phrase too.
			terms = append(terms, TextTerm{Words: words, Prefix: prefix})
		} else {
			terms = append(terms, TextTerm{Words: words})
		}
	}
	if len(terms) == 0 {
		return nil, models.Invalid("purpose", fmt.Sprintf("%q has no letters or digits to search for", s))
	}
	if len(terms) > maxTextTerms {
		return nil, models.Invalid("purpose", fmt.Sprintf("has %d terms; at most %d are searched", len(terms), maxTextTerms))
	}
	return terms, nil
}

// endsWithWord reports whether s ends in a letter, digit or mark, so that a
// following * really marks a prefix (not "INC-*").
func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r != utf8.RuneError && isWordRune(r)
}

// isWordRune is what a word is made of, here and in both indexes: letters,
// digits and combining marks (SQLite's unicode61 tokenizer; PostgreSQL's
// [[:alnum:]] normalisation in migration 0011).
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r)
}

// textWords splits s into lower-case words.
func textWords(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return !isWordRune(r) })
	for i, w := range f {
		f[i] = strings.ToLower(w)
	}
	return f
}

// fts5Match builds an SQLite FTS5 MATCH expression from terms: each phrase
// is a double-quoted string (words contain no quote, so nothing needs
// escaping and no FTS5 operator can appear), a prefix phrase is followed by
// *, and phrases are joined with AND.
func fts5Match(terms []TextTerm) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteByte('"')
		b.WriteString(strings.Join(t.Words, " "))
		b.WriteByte('"')
		if t.Prefix {
			b.WriteString(" *")
		}
	}
	return b.String()
}

// tsQuery builds a PostgreSQL tsquery text from terms for
// to_tsquery('simple', …): every word is a single-quoted lexeme (words
// contain no quote or backslash), phrases join words with <->, a prefix
// word ends in :*, and phrases are joined with &.
func tsQuery(terms []TextTerm) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteString(" & ")
		}
		if len(t.Words) > 1 {
			b.WriteByte('(')
		}
		for j, w := range t.Words {
			if j > 0 {
				b.WriteString(" <-> ")
			}
			b.WriteByte('\'')
			b.WriteString(w)
			b.WriteByte('\'')
			if t.Prefix && j == len(t.Words)-1 {
				b.WriteString(":*")
			}
		}
		if len(t.Words) > 1 {
			b.WriteByte(')')
		}
	}
	return b.String()
}
