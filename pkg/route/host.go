package route

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Host is one entry of a route's hosts, with Kong's wildcard rules: a
// leading "*." matches any subdomain, a trailing ".*" any top-level part,
// and a ":port" suffix also requires that port
// (kong/router/transform.lua, get_expression).
type Host struct {
	Source string
	name   string // lower case, the wildcard removed: ".example.com" or "example."
	suffix bool   // "*.example.com"
	prefix bool   // "example.*"
	port   int    // 0: any
}

// CompileHost validates a route host as Kong's schema does
// (kong/db/schema/typedefs.lua, hosts): at most one wildcard, as the
// leftmost or rightmost label.
func CompileHost(s string) (Host, error) {
	h := Host{Source: s}
	name := strings.ToLower(s)
	// Kong splits the port at the first colon when what follows is a number.
	i := strings.IndexByte(name, ':')
	if strings.HasPrefix(name, "[") {
		i = strings.Index(name, "]:")
		if i >= 0 {
			i++
		}
	}
	if i >= 0 {
		port, err := strconv.Atoi(name[i+1:])
		if err != nil || port < 1 || port > 65535 {
			return h, fmt.Errorf("host %q: invalid port", s)
		}
		name, h.port = name[:i], port
	}
	switch n := strings.Count(name, "*"); {
	case n > 1:
		return h, fmt.Errorf("host %q: invalid wildcard: must have at most one wildcard", s)
	case n == 1 && strings.HasPrefix(name, "*."):
		h.suffix, name = true, name[1:]
	case n == 1 && strings.HasSuffix(name, ".*"):
		h.prefix, name = true, name[:len(name)-1]
	case n == 1:
		return h, fmt.Errorf("host %q: invalid wildcard: must be placed at leftmost or rightmost label", s)
	}
	if !validHostName(strings.Trim(name, ".")) {
		return h, fmt.Errorf("host %q: invalid value", s)
	}
	h.name = name
	return h, nil
}

var hostName = regexp.MustCompile(`^(\[[0-9a-f:.]+\]|[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*)$`)

func validHostName(s string) bool { return len(s) <= 253 && hostName.MatchString(s) }

func (h *Host) match(name string, port int) bool {
	if h.port != 0 && h.port != port {
		return false
	}
	switch {
	case h.suffix:
		return strings.HasSuffix(name, h.name)
	case h.prefix:
		return strings.HasPrefix(name, h.name)
	}
	return name == h.name
}

// requestHost splits a Host header into the lower-case name, without a
// final dot (as nginx's $host, which Kong matches on), and the port: the
// header's own, else the default of the scheme the edge reports. Function
// URLs and API Gateway serve HTTPS only, hence 443 unless told otherwise.
func requestHost(req *Request) (string, int) {
	host, port := req.Host, 0
	if strings.Contains(host, ":") {
		if h, p, err := net.SplitHostPort(host); err == nil {
			host = h
			port, _ = strconv.Atoi(p)
		}
	}
	if port == 0 {
		port = 443
		if strings.EqualFold(req.Header.Get("X-Forwarded-Proto"), "http") {
			port = 80
		}
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host, port
}

// Header is one entry of a route's headers: the request must carry the
// header with one of the values. As in Kong, values compare case
// insensitively, a value starting with "~*" is a regular expression, and
// "_" and "-" in the name are the same.
type Header struct {
	Name   string // canonical, with "-"
	values []string
	res    []*regexp.Regexp
}

// CompileHeader validates one entry of a route's headers.
func CompileHeader(name string, values []string) (Header, error) {
	if strings.EqualFold(name, "host") {
		return Header{}, fmt.Errorf("cannot contain 'host' header, which must be specified in the 'hosts' attribute")
	}
	h := Header{Name: http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))}
	if len(values) == 0 {
		return h, fmt.Errorf("header %q needs at least one value", name)
	}
	for _, v := range values {
		if expr, ok := strings.CutPrefix(v, "~*"); ok {
			re, err := regexp.Compile("(?i)" + expr)
			if err != nil {
				return h, fmt.Errorf("header %q: invalid regex %q: %w", name, v, err)
			}
			h.res = append(h.res, re)
			continue
		}
		h.values = append(h.values, strings.ToLower(v))
	}
	return h, nil
}

func (h *Header) match(header http.Header) bool {
	for key, vals := range header {
		if !sameHeaderName(key, h.Name) {
			continue
		}
		for _, got := range vals {
			got = strings.ToLower(got)
			for _, v := range h.values {
				if got == v {
					return true
				}
			}
			for _, re := range h.res {
				if re.MatchString(got) {
					return true
				}
			}
		}
	}
	return false
}

// sameHeaderName compares header names ignoring ASCII case, with "_" and
// "-" alike.
func sameHeaderName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == '_' {
			x = '-'
		}
		if y == '_' {
			y = '-'
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
