// Package localguard makes the local HTTP server (the binary outside
// Lambda) safe to leave running on a developer's machine with a real
// upstream key in its environment:
//
//   - A web page the developer visits must not be able to spend that key.
//     A cross-site "simple" request (a text/plain POST) needs no CORS
//     preflight, so browsers send it; http.CrossOriginProtection refuses
//     it (Sec-Fetch-Site, else Origin against Host). DNS rebinding (a page
//     on evil.example whose name now resolves to 127.0.0.1) is same-origin
//     to the browser, so the Host header is checked too: only the server's
//     own names (loopback names, the listen address) and those listed in
//     AIPROXY_ALLOWED_HOSTS are served.
//   - A client that sends headers and part of a body and then goes silent
//     must not hold a connection and its memory forever: headers and the
//     body each have a time limit, and idle keep-alive connections are
//     closed. A streamed answer has no limit (the model decides).
//   - A request refused on its head (Host, origin, or the handler's own
//     judgement: route, key, declared length) is answered at once, with
//     its body unread and its connection closed; see bodyDeadline.
//
// Non-browser clients (SDKs, curl) send neither Origin nor Sec-Fetch-Site
// and are unaffected. None of this applies on Lambda, where the edge and
// key-auth stand in front of the handler.
package localguard

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Environment variables read by OptionsFromEnv.
const (
	// EnvAllowedHosts lists extra host names (comma-separated, optionally
	// with :port, "*" for any) the server answers for, e.g. the LAN name
	// of a machine that serves others.
	EnvAllowedHosts = "AIPROXY_ALLOWED_HOSTS"
	// EnvAllowedOrigins lists browser origins (scheme://host[:port],
	// comma-separated) allowed to make cross-origin requests, e.g. a local
	// web app under development.
	EnvAllowedOrigins = "AIPROXY_ALLOWED_ORIGINS"
)

// Defaults for Options.
const (
	DefaultHeaderTimeout = 10 * time.Second
	// DefaultBodyTimeout bounds reading a request body: 1 MiB (the default
	// max_request_body_size) arrives in far less on any working link.
	DefaultBodyTimeout = 30 * time.Second
	DefaultIdleTimeout = 120 * time.Second
)

// Options configure the guard and the server.
type Options struct {
	AllowedHosts   []string
	AllowedOrigins []string
	HeaderTimeout  time.Duration
	BodyTimeout    time.Duration
	IdleTimeout    time.Duration
}

// OptionsFromEnv reads AIPROXY_ALLOWED_HOSTS and AIPROXY_ALLOWED_ORIGINS.
func OptionsFromEnv(getenv func(string) string) Options {
	return Options{AllowedHosts: list(getenv(EnvAllowedHosts)), AllowedOrigins: list(getenv(EnvAllowedOrigins))}
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// NewServer returns the local server for h on addr, guarded and with
// every read bounded. An allowed origin that is not a valid origin is an
// error.
func NewServer(addr string, h http.Handler, opts Options, logger *slog.Logger) (*http.Server, error) {
	g, err := Guard(addr, h, opts)
	if err != nil {
		return nil, err
	}
	return &http.Server{
		Addr:              addr,
		Handler:           g,
		ReadHeaderTimeout: orDefault(opts.HeaderTimeout, DefaultHeaderTimeout),
		// No ReadTimeout or WriteTimeout: both would also cut a stream
		// (net/http cancels the request when a whole-request read deadline
		// passes). The body gets its own deadline in Guard.
		IdleTimeout: orDefault(opts.IdleTimeout, DefaultIdleTimeout),
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}, nil
}

// Guard wraps h with the Host check, cross-origin protection and the body
// deadline. addr is the listen address, whose host is one of the server's
// own names.
func Guard(addr string, h http.Handler, opts Options) (http.Handler, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range opts.AllowedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		refuse(w, "cross-origin browser requests are refused (a web page must not spend the upstream key); allow an origin with "+EnvAllowedOrigins, "cross_origin_refused")
	}))
	hosts := newHostSet(addr, opts.AllowedHosts)
	inner := cop.Handler(h)
	return bodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hosts.allows(r.Host) {
			refuse(w, "host "+clip(r.Host)+" is not this server's (DNS rebinding protection); allow it with "+EnvAllowedHosts, "host_not_allowed")
			return
		}
		inner.ServeHTTP(w, r)
	}), orDefault(opts.BodyTimeout, DefaultBodyTimeout)), nil
}

func clip(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	return strings.ToValidUTF8(s, "?")
}

// refuse answers 403 in OpenAI's error shape.
func refuse(w http.ResponseWriter, msg, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	b := []byte(`{"error":{"message":`)
	b = appendQuoted(b, msg)
	b = append(b, `,"type":"invalid_request_error","param":null,"code":`...)
	b = appendQuoted(b, code)
	_, _ = w.Write(append(b, "}}"...))
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// hostSet is the set of host names the server answers for.
type hostSet struct {
	any   bool
	names map[string]bool // lower case, without port
	exact map[string]bool // host:port entries
}

func newHostSet(addr string, extra []string) *hostSet {
	s := &hostSet{names: map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}, exact: map[string]bool{}}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			s.names[strings.ToLower(host)] = true
		}
	}
	for _, h := range extra {
		h = strings.ToLower(h)
		if h == "*" {
			s.any = true
		} else if _, _, err := net.SplitHostPort(h); err == nil {
			s.exact[h] = true
		} else {
			s.names[strings.Trim(h, "[]")] = true
		}
	}
	return s
}

// allows reports whether a request's Host names this server. Any port
// of an allowed name is fine: a port forward changes the port, and only
// the name tells an attacker's domain from ours.
func (s *hostSet) allows(host string) bool {
	if s.any || host == "" { // no Host at all is no browser
		return true
	}
	host = strings.ToLower(host)
	if s.exact[host] {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	return s.names[name] || strings.HasSuffix(name, ".localhost")
}
