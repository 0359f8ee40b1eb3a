package config

import (
	"fmt"
	"strings"
)

// Template sources, as Kong names them.
const (
	SourceURICaptures = "uri_captures"
	SourceHeaders     = "headers"
	SourceQueryParams = "query_params"
)

// Template is a model string value that may hold $(source.key) references,
// resolved per request. A Template without references is a plain value.
type Template struct {
	Raw   string
	parts []templatePart
}

type templatePart struct {
	lit         string
	source, key string // set for a reference
}

// MissingError is a template reference with no value in the request. Its
// message is Kong's, which clients already match on.
type MissingError struct {
	Source, Key string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s key %s was not provided", e.Source, e.Key)
}

// ParseTemplate compiles a model string value.
func ParseTemplate(s string) (Template, error) {
	t := Template{Raw: s}
	rest := s
	for {
		i := strings.Index(rest, "$(")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, templatePart{lit: rest})
			}
			return t, nil
		}
		end := strings.IndexByte(rest[i:], ')')
		if end < 0 {
			return Template{}, fmt.Errorf("unterminated template in %q", s)
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{lit: rest[:i]})
		}
		ref := rest[i+2 : i+end]
		source, key, ok := strings.Cut(ref, ".")
		if !ok || key == "" {
			return Template{}, fmt.Errorf("template $(%s) must be $(source.name)", ref)
		}
		switch source {
		case SourceURICaptures, SourceHeaders, SourceQueryParams:
		default:
			return Template{}, fmt.Errorf("template source %q must be one of %s, %s, %s", source, SourceURICaptures, SourceHeaders, SourceQueryParams)
		}
		t.parts = append(t.parts, templatePart{source: source, key: key})
		rest = rest[i+end+1:]
	}
}

// IsZero reports whether no value was configured.
func (t Template) IsZero() bool { return t.Raw == "" }

// IsStatic reports whether the value holds no references.
func (t Template) IsStatic() bool {
	for _, p := range t.parts {
		if p.source != "" {
			return false
		}
	}
	return true
}

// Lookup returns the request's value for a template reference.
type Lookup func(source, key string) (string, bool)

// Resolve substitutes every reference. A reference with no value, or an
// empty one, is a *MissingError.
func (t Template) Resolve(lookup Lookup) (string, error) {
	if len(t.parts) == 1 && t.parts[0].source == "" {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.source == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := lookup(p.source, p.key)
		if !ok || v == "" {
			return "", &MissingError{Source: p.source, Key: p.key}
		}
		b.WriteString(v)
	}
	return b.String(), nil
}
