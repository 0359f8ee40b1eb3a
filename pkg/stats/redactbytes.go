package stats

import (
	"bytes"
	"net/url"
	"strings"
)

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

// RedactString is Redact for a line of text (an error's message).
func RedactString(s string, secrets []string) string {
	if s == "" || len(secrets) == 0 {
		return s
	}
	return string(Redact([]byte(s), secrets))
}

// SecretForms are the spellings in which an echo can carry each credential
// value: the value itself ("Bearer sk-..."), the token after its scheme,
// and the URL-encoded forms of each (a query string or a path that quotes
// the request). Redact finds their JSON-escaped spellings by itself. The
// whole value comes before its token, so that an echo of the header is
// blanked as one.
func SecretForms(values ...string) []string {
	var out []string
	add := func(s string) {
		out = append(out, s)
		q := url.QueryEscape(s)
		if q != s {
			out = append(out, q)
		}
		if p := url.PathEscape(s); p != s && p != q {
			out = append(out, p)
		}
	}
	for _, v := range values {
		if v == "" {
			continue
		}
		add(v)
		if _, tok, ok := strings.Cut(v, " "); ok && tok != "" {
			add(tok)
		}
	}
	return out
}
