package server

import "strings"

// format is a representation the server can answer with.
type format int

// The offers, in the server's order of preference: on a tie in quality the
// earlier one wins, so "*/*" (curl) gets plain text.
const (
	formatText format = iota
	formatJSON
	formatHTML
	numFormats
)

var formatMediaType = [numFormats]string{
	formatText: "text/plain",
	formatJSON: "application/json",
	formatHTML: "text/html",
}

// negotiate picks the representation for the Accept header values, as
// RFC 9110 section 12.5.1 describes: each offer takes the quality of the
// most specific media range that matches it, and the highest quality wins.
// When nothing acceptable is offered it falls back to plain text rather
// than answering 406, so every client gets a greeting.
func negotiate(accept []string) format {
	if len(accept) == 0 {
		return formatText
	}
	var (
		quality     [numFormats]int // in thousandths
		specificity [numFormats]int // 0: no match, 1: */*, 2: type/*, 3: type/subtype
	)
	for _, value := range accept {
		for value != "" {
			var element string
			element, value, _ = strings.Cut(value, ",")
			mediaRange, params, _ := strings.Cut(element, ";")
			mediaRange = strings.TrimSpace(mediaRange)
			if mediaRange == "" {
				continue
			}
			q, ok := qualityOf(params)
			if !ok {
				continue
			}
			for f := range numFormats {
				s := matches(mediaRange, formatMediaType[f])
				if s > specificity[f] {
					specificity[f], quality[f] = s, q
				}
			}
		}
	}
	best, bestQ := formatText, 0
	for f := range numFormats {
		if quality[f] > bestQ {
			best, bestQ = f, quality[f]
		}
	}
	return best
}

// matches returns how specifically mediaRange matches mediaType:
// 0 when it does not match at all.
func matches(mediaRange, mediaType string) int {
	if mediaRange == "*/*" {
		return 1
	}
	rangeType, rangeSub, ok := strings.Cut(mediaRange, "/")
	if !ok {
		return 0
	}
	typ, sub, _ := strings.Cut(mediaType, "/")
	if !strings.EqualFold(rangeType, typ) {
		return 0
	}
	if rangeSub == "*" {
		return 2
	}
	if strings.EqualFold(rangeSub, sub) {
		return 3
	}
	return 0
}

// qualityOf finds the q parameter among the parameters of one Accept
// element and returns it in thousandths. A missing q means 1; a malformed
// one makes the whole element invalid.
func qualityOf(params string) (int, bool) {
	for params != "" {
		var param string
		param, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(strings.TrimSpace(param), "=")
		if strings.EqualFold(strings.TrimSpace(name), "q") {
			return parseQuality(strings.TrimSpace(value))
		}
	}
	return 1000, true
}

// parseQuality parses a qvalue: "0" or "1", optionally followed by a dot
// and up to three digits, never above 1.
func parseQuality(s string) (int, bool) {
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	q := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return q, true
	}
	if s[1] != '.' || len(s) > 5 {
		return 0, false
	}
	scale := 100
	for i := 2; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		q += int(d-'0') * scale
		scale /= 10
	}
	if q > 1000 {
		return 0, false
	}
	return q, true
}
