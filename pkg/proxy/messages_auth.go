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

// messagesOutgoing shapes a Messages request's upstream headers: the
// client's x-api-key (its key for this proxy) never goes on, unless the
// configured upstream credential is an x-api-key, which rewriteOutgoing
// has just set; a native upstream gets anthropic-version (the client's,
// else model.options.anthropic_version) and the client's anthropic-beta;
// the chat hub gets neither, and no Accept-Encoding, so that the chat
// answer it translates arrives decoded.
func messagesOutgoing(pl *plan, h http.Header) {
	if !strings.EqualFold(pl.plugin.Auth.HeaderName, "x-api-key") {
		h.Del("X-Api-Key")
	}
	if !pl.msgs.native {
		h.Del("Anthropic-Version")
		h.Del("Anthropic-Beta")
		h.Del("Accept-Encoding")
		return
	}
	if h.Get("Anthropic-Version") == "" && pl.msgs.anthropicVersion != "" {
		h.Set("Anthropic-Version", pl.msgs.anthropicVersion)
	}
}
