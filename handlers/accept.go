package handlers

import (
	"strconv"
	"strings"
)

// acceptance is how an Accept header ranks one media type: its q-value and
// how specifically it was named (2 exact, 1 type/*, 0 */*, -1 not at all).
type acceptance struct {
	q           float64
	specificity int
}

// better orders two acceptances: higher q wins; on equal q the type named
// explicitly wins, so "application/json, */*" (common in API clients) means
// JSON while a bare "*/*" (curl) keeps the HTML default.
func (a acceptance) better(b acceptance) bool {
	if a.q != b.q {
		return a.q > b.q
	}
	return a.specificity > b.specificity
}

// acceptQuality returns how header accepts mediaType (e.g.
// "application/json"), using the most specific matching range: an exact
// type beats type/* beats */*. A missing header accepts everything equally.
func acceptQuality(header, mediaType string) acceptance {
	if strings.TrimSpace(header) == "" {
		return acceptance{q: 1, specificity: 0}
	}
	typ, _, _ := strings.Cut(mediaType, "/")
	best, bestSpecificity := 0.0, -1
	for _, part := range strings.Split(header, ",") {
		fields := strings.Split(part, ";")
		rng := strings.ToLower(strings.TrimSpace(fields[0]))
		specificity := -1
		switch {
		case rng == mediaType:
			specificity = 2
		case rng == typ+"/*":
			specificity = 1
		case rng == "*/*":
			specificity = 0
		}
		if specificity < 0 || specificity < bestSpecificity {
			continue
		}
		q := 1.0
		for _, param := range fields[1:] {
			k, v, ok := strings.Cut(strings.TrimSpace(param), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
		}
		if specificity > bestSpecificity || q > best {
			best, bestSpecificity = q, specificity
		}
	}
	return acceptance{q: best, specificity: bestSpecificity}
}
