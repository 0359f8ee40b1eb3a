package stats

import "bytes"

// redact blanks every configured secret in a payload, then caps it (in that
// order, so a secret cut in half by the cap cannot leak its first half).
func redact(b []byte, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 4 && bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte("[REDACTED]"))
		}
	}
	if len(b) > MaxPayloadLog {
		// Invalid UTF-8 at the cut is written as U+FFFD.
		b = b[:MaxPayloadLog]
	}
	return string(b)
}
