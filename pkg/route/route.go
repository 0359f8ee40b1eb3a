// Package route chooses the route of a request the way Kong 3.x does. A path
// that starts with "~" is a regular expression anchored at the start of the
// (percent-decoded) path, whose named groups become uri_captures; any other
// path is a prefix. A Table, compiled once per configuration version, holds
// the routes in Kong's order of evaluation.
package route

import (
	"fmt"
	"regexp"
	"strings"
)

// Path is one compiled route path.
type Path struct {
	// Source is the path as written in the configuration.
	Source string
	re     *regexp.Regexp
	names  []string
}

// Compile compiles a Kong route path.
func Compile(p string) (*Path, error) {
	if p == "" {
		return nil, fmt.Errorf("path must not be empty")
	}
	if !strings.HasPrefix(p, "~") {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("path %q must start with / (or ~ for a regex)", p)
		}
		return &Path{Source: p}, nil
	}
	expr := strings.TrimPrefix(p, "~")
	// Kong 3.x anchors regex paths at the start of the path.
	if !strings.HasPrefix(expr, "^") {
		expr = "^" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid regex path %q: %w", p, err)
	}
	return &Path{Source: p, re: re, names: re.SubexpNames()}, nil
}

// IsRegex reports whether the path is a regular expression.
func (p *Path) IsRegex() bool { return p.re != nil }

// Match reports whether path matches, with the named captures of a regex
// path (nil for a prefix path or a regex without named groups).
func (p *Path) Match(path string) (map[string]string, bool) {
	if p.re == nil {
		return nil, strings.HasPrefix(path, p.Source)
	}
	m := p.re.FindStringSubmatch(path)
	if m == nil {
		return nil, false
	}
	var caps map[string]string
	for i, name := range p.names {
		if name == "" || i >= len(m) {
			continue
		}
		if caps == nil {
			caps = make(map[string]string, 1)
		}
		caps[name] = m[i]
	}
	return caps, true
}
