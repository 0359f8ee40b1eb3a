package stats

import "bytes"

// Redact blanks every secret in b, written literally or with JSON escapes,
// as payload logs do, but without their size cap: the proxy uses it on
// upstream error bodies it relays to clients. It may modify b.
func Redact(b []byte, secrets []string) []byte {
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		if bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte(redacted))
		}
		if bytes.IndexByte(b, '\\') >= 0 {
			b = redactEscaped(b, s)
		}
	}
	return b
}
