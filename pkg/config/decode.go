package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is a validation failure at a field path such as
// "plugins[0].config.model.options.temperature".
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// decodeTree parses YAML or JSON into plain Go values: map[string]any,
// []any, string, bool, int64, float64 and nil.
func decodeTree(data []byte) (any, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("document is empty")
	}
	var v any
	if trimmed[0] == '{' {
		// JSON proper first: YAML rejects the tab indentation JSON allows.
		// A YAML flow mapping also starts with '{', so fall back to YAML, and
		// report the JSON error only if that fails too.
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		jerr := dec.Decode(&v)
		if jerr == nil && dec.More() {
			jerr = errors.New("trailing data after the document")
		}
		if jerr == nil {
			return normalize(v), nil
		}
		v = nil
		if looksLikeJSON(trimmed) || yaml.Unmarshal(trimmed, &v) != nil {
			return nil, fmt.Errorf("invalid JSON: %w", jerr)
		}
		return normalize(v), nil
	}
	return decodeYAML(trimmed)
}

// documents is a YAML stream of several documents, such as Kubernetes
// manifests separated by "---".
type documents []any

// maxDocuments bounds a YAML stream.
const maxDocuments = 64

// decodeYAML reads every document of a YAML stream; one document is
// returned as it is, several as documents.
func decodeYAML(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs documents
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid YAML: %w", err)
		}
		if v == nil {
			continue // an empty document, as after a leading "---"
		}
		if len(docs) == maxDocuments {
			return nil, fmt.Errorf("invalid YAML: more than %d documents", maxDocuments)
		}
		docs = append(docs, normalize(v))
	}
	switch len(docs) {
	case 0:
		return nil, errors.New("document is empty")
	case 1:
		return docs[0], nil
	}
	return docs, nil
}

func docPath(i int) string { return fmt.Sprintf("documents[%d]", i) }

// looksLikeJSON reports a '{' followed by a quoted key: JSON, where a YAML
// flow mapping would usually leave its keys bare.
func looksLikeJSON(b []byte) bool {
	rest := bytes.TrimLeft(b[1:], " \t\r\n")
	return len(rest) > 0 && rest[0] == '"'
}

// normalize turns the decoders' number and map types into one set.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case int:
		return int64(t)
	case uint64:
		return float64(t)
	}
	return v
}

// walker reads typed fields out of a decoded tree, recording every problem
// with its field path so that one pass reports them all.
type walker struct {
	errs []error
}

func (w *walker) fail(path, format string, args ...any) {
	w.errs = append(w.errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (w *walker) err() error {
	if len(w.errs) == 0 {
		return nil
	}
	sort.SliceStable(w.errs, func(i, j int) bool {
		a, b := w.errs[i].(*FieldError), w.errs[j].(*FieldError)
		return a.Path < b.Path
	})
	return errors.Join(w.errs...)
}

// object is one mapping being read; fields not read are reported as unknown.
type object struct {
	w    *walker
	path string
	m    map[string]any
	used map[string]bool
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (w *walker) object(path string, v any) *object {
	o := &object{w: w, path: path, used: map[string]bool{}}
	switch t := v.(type) {
	case map[string]any:
		o.m = t
	case nil:
		o.m = map[string]any{}
	default:
		w.fail(pathOr(path), "expected a record, got %s", kind(v))
		o.m = map[string]any{}
	}
	return o
}

func pathOr(p string) string {
	if p == "" {
		return "(document)"
	}
	return p
}

// get returns the raw value of key, treating an explicit null as absent.
func (o *object) get(key string) (any, bool) {
	o.used[key] = true
	v, ok := o.m[key]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

func (o *object) has(key string) bool {
	v, ok := o.m[key]
	return ok && v != nil
}

// ignore marks keys that are valid in the schema but mean nothing here.
func (o *object) ignore(keys ...string) {
	for _, k := range keys {
		o.used[k] = true
	}
}

// done reports the fields that the schema does not know.
func (o *object) done() {
	var unknown []string
	for k := range o.m {
		if !o.used[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		o.w.fail(join(o.path, k), "unknown field")
	}
}

func (o *object) child(key string) *object {
	v, _ := o.get(key)
	return o.w.object(join(o.path, key), v)
}

func (o *object) str(key string) string {
	v, ok := o.get(key)
	if !ok {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		o.w.fail(join(o.path, key), "expected a string, got %s", kind(v))
	}
	return s
}

func (o *object) enum(key, def string, allowed ...string) string {
	s := o.str(key)
	if !o.has(key) {
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	o.w.fail(join(o.path, key), "expected one of: %s", strings.Join(allowed, ", "))
	return def
}

func (o *object) boolean(key string, def bool) bool {
	v, ok := o.get(key)
	if !ok {
		return def
	}
	b, isBool := v.(bool)
	if !isBool {
		o.w.fail(join(o.path, key), "expected a boolean, got %s", kind(v))
		return def
	}
	return b
}

// asNumber reads a decoded number as a float64: normalize leaves a number
// as int64 when it is whole and fits, as float64 otherwise.
func asNumber(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

func (o *object) number(key string, min, max float64) *float64 {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	f, isNumber := asNumber(v)
	if !isNumber {
		o.w.fail(join(o.path, key), "expected a number, got %s", kind(v))
		return nil
	}
	if math.IsNaN(f) || f < min || f > max {
		o.w.fail(join(o.path, key), "value should be between %v and %v", min, max)
		return nil
	}
	return &f
}

func (o *object) integer(key string, min, max int64) *int {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	var i int64
	switch t := v.(type) {
	case int64:
		i = t
	case float64:
		if t != math.Trunc(t) {
			o.w.fail(join(o.path, key), "expected an integer")
			return nil
		}
		i = int64(t)
	default:
		o.w.fail(join(o.path, key), "expected an integer, got %s", kind(v))
		return nil
	}
	if i < min || i > max {
		o.w.fail(join(o.path, key), "value should be between %d and %d", min, max)
		return nil
	}
	n := int(i)
	return &n
}

func (o *object) list(key string) []any {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	l, isList := v.([]any)
	if !isList {
		o.w.fail(join(o.path, key), "expected an array, got %s", kind(v))
	}
	return l
}

func (o *object) strings(key string) []string {
	var out []string
	for i, e := range o.list(key) {
		s, ok := e.(string)
		if !ok {
			o.w.fail(fmt.Sprintf("%s[%d]", join(o.path, key), i), "expected a string, got %s", kind(e))
			continue
		}
		out = append(out, s)
	}
	return out
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a record"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
