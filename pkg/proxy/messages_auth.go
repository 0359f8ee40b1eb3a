package proxy

import (
	"net/http"
	"strings"
)

// messagesKey is a key-auth key in x-api-key, where Anthropic's SDKs and
// Claude Code (ANTHROPIC_API_KEY) send it; ANTHROPIC_AUTH_TOKEN arrives as
// Authorization: Bearer, which key-auth reads anyway. The header never
// reaches the upstream (messagesOutgoing).
func messagesKey(r *http.Request) presented {
	if v := strings.TrimSpace(r.Header.Get("X-Api-Key")); v != "" {
		return presented{key: v, header: "X-Api-Key"}
	}
	return presented{}
}

// messagesOutgoing shapes a Messages request's upstream headers before
// the driver's and the configured credential are set: the client's
// x-api-key (its key for this proxy) never goes on, unless the configured
// upstream credential is an x-api-key, which replaces it; the client's
// anthropic-version and anthropic-beta were handed to a native driver
// (provider.MessagesCall), which sends what its upstream reads in its
// Upstream's Header; the chat hub gets neither, and no Accept-Encoding, so
// that the chat answer it translates arrives decoded.
func messagesOutgoing(pl *plan, h http.Header) {
	if !strings.EqualFold(pl.plugin.Auth.HeaderName, "x-api-key") {
		h.Del("X-Api-Key")
	}
	h.Del("Anthropic-Version")
	h.Del("Anthropic-Beta")
	if !pl.msgs.native {
		h.Del("Accept-Encoding")
	}
}
