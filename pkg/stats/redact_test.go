package stats

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A secret inside a JSON payload may be spelled with any JSON escape; each
// spelling is blanked.
func TestRedactEscapedForms(t *testing.T) {
	const slashKey = "sk-proj/abc+def=="
	const quoteKey = `key"with\backslash`
	const emojiKey = "sk-😀-0123456789"
	goJSON, _ := json.Marshal(map[string]string{"k": "sk-a<b>&c/d0123"}) // Go escapes <, > and & as \u003c...
	tests := []struct {
		name    string
		secret  string
		payload string
	}{
		{"literal", "sk-live-0123456789", `{"api_key":"sk-live-0123456789"}`},
		{"escaped slash", slashKey, `{"api_key":"sk-proj\/abc+def=="}`},
		{"escaped quote and backslash", quoteKey, `{"api_key":"key\"with\\backslash"}`},
		{"every character as \\u", "sk-canary-42", `{"k":"` + uEscape("sk-canary-42", false) + `"}`},
		{"upper-case hex", "sk-canary-42", `{"k":"` + uEscape("sk-canary-42", true) + `"}`},
		{"mixed", slashKey, `{"k":"s\u006b-proj\/ab\u0063+def=\u003d"}`},
		{"surrogate pair", emojiKey, `{"k":"sk-\ud83d\ude00-0123456789"}`},
		{"encoding/json's HTML escapes", "sk-a<b>&c/d0123", string(goJSON)},
		{"twice, escaped and not", slashKey, `{"a":"sk-proj/abc+def==","b":"sk-proj\/abc+def=="}`},
		{"raw text with a backslash", `pa\ss-word`, `not json: pa\ss-word`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redact([]byte(tt.payload), []string{tt.secret})
			if !strings.Contains(got, redacted) {
				t.Errorf("nothing redacted in %s -> %s", tt.payload, got)
			}
			if v := decodeAll(got); strings.Contains(v, tt.secret) {
				t.Errorf("secret still readable in %s (decoded: %s)", got, v)
			}
		})
	}
}

// Redaction does not eat what merely looks like a secret.
func TestRedactLeavesOtherText(t *testing.T) {
	tests := []struct{ secret, payload string }{
		{"sk-canary-42", `{"k":"sk-canary-43","m":"sk-canary-4\u0033"}`},
		{"sk-canary-42", `{"k":"sk-canary-4\x"}`},
		{"sk-canary-42", `{"k":"sk-canary-4\u003"}`},
		{"sk-canary-42", `\`},
	}
	for _, tt := range tests {
		if got := redact([]byte(tt.payload), []string{tt.secret}); got != tt.payload {
			t.Errorf("%q became %q", tt.payload, got)
		}
	}
}

func uEscape(s string, upper bool) string {
	var b strings.Builder
	for _, r := range s {
		if upper {
			fmt.Fprintf(&b, `\u%04X`, r)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// decodeAll reads every JSON string in s, as a log reader would.
func decodeAll(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	return fmt.Sprint(v)
}

// A credential's forms: the value, the token after its scheme, and the
// URL-encoded spellings of each; nothing for an empty value.
func TestSecretForms(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   []string
	}{
		{"none", nil, nil},
		{"empty value", []string{""}, nil},
		{"plain key", []string{"sk-0123456789"}, []string{"sk-0123456789"}},
		{"bearer", []string{"Bearer ya29.a0-b_c"}, []string{"Bearer ya29.a0-b_c", "Bearer+ya29.a0-b_c", "Bearer%20ya29.a0-b_c", "ya29.a0-b_c"}},
		{"URL-unsafe token", []string{"Bearer a/b+c="}, []string{"Bearer a/b+c=", "Bearer+a%2Fb%2Bc%3D", "Bearer%20a%2Fb+c=", "a/b+c=", "a%2Fb%2Bc%3D", "a%2Fb+c="}},
		{"two values", []string{"k1-aaaa", "Bearer t2-bbbb"}, []string{"k1-aaaa", "Bearer t2-bbbb", "Bearer+t2-bbbb", "Bearer%20t2-bbbb", "t2-bbbb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SecretForms(tt.values...); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("SecretForms(%q) = %q, want %q", tt.values, got, tt.want)
			}
		})
	}
}

// An echoed header is blanked as one, whichever spelling the echo chose.
func TestRedactStringForms(t *testing.T) {
	forms := SecretForms("Bearer a/b+c=")
	tests := []struct{ in, want string }{
		{"got Authorization: Bearer a/b+c=", "got Authorization: [REDACTED]"},
		{"token a/b+c= only", "token [REDACTED] only"},
		{"/v1?auth=Bearer+a%2Fb%2Bc%3D", "/v1?auth=[REDACTED]"},
		{"/tok/a%2Fb+c=/x", "/tok/[REDACTED]/x"},
		{`{"m":"a\/b\u002bc="}`, `{"m":"[REDACTED]"}`},
		{"nothing here", "nothing here"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactString(tt.in, forms); got != tt.want {
			t.Errorf("RedactString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
