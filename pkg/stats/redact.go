package stats

import (
	"unicode/utf16"
	"unicode/utf8"
)

const redacted = "[REDACTED]"

// redact blanks every configured secret in a payload, then caps it (in that
// order, so a secret cut in half by the cap cannot leak its first half).
// A payload is JSON, where a secret can be spelled with escapes (`\/` for
// `/`, `\"`, `\u0073` for `s`, a surrogate pair): every such spelling is
// blanked too, not only the literal one.
func redact(b []byte, secrets []string) string {
	b = Redact(b, secrets)
	if len(b) > MaxPayloadLog {
		// Invalid UTF-8 at the cut is written as U+FFFD.
		b = b[:MaxPayloadLog]
	}
	return string(b)
}

// redactEscaped replaces each span of b that spells s with JSON escapes.
// It returns b itself when there is none.
func redactEscaped(b []byte, s string) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		n := matchEscaped(b[i:], s)
		if n == 0 {
			i++
			continue
		}
		out = append(out, b[last:i]...)
		out = append(out, redacted...)
		i += n
		last = i
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// matchEscaped returns the length of the prefix of b that spells s, each
// character written literally or as a JSON escape, or 0.
func matchEscaped(b []byte, s string) int {
	j := 0
	for _, want := range s {
		if j >= len(b) {
			return 0
		}
		got, n := decodeJSONChar(b[j:])
		if n == 0 || got != want {
			return 0
		}
		j += n
	}
	return j
}

// decodeJSONChar decodes the character at the start of b (not empty): a
// JSON escape (a surrogate pair of \u escapes is one character) or a
// literal UTF-8 rune. n is 0 for a malformed escape.
func decodeJSONChar(b []byte) (r rune, n int) {
	if b[0] != '\\' {
		return utf8.DecodeRune(b)
	}
	if len(b) < 2 {
		return utf8.RuneError, 0
	}
	switch b[1] {
	case '"', '\\', '/':
		return rune(b[1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r := hex4(b[2:])
		if r < 0 {
			return utf8.RuneError, 0
		}
		if utf16.IsSurrogate(r) && len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
			if lo := hex4(b[8:]); lo >= 0 {
				if pair := utf16.DecodeRune(r, lo); pair != utf8.RuneError {
					return pair, 12
				}
			}
		}
		return r, 6
	}
	return utf8.RuneError, 0
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
