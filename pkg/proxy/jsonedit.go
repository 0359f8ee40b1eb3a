package proxy

import (
	"encoding/json"
	"errors"
)

// field is one top-level member of a JSON object, as byte offsets into the
// body, so that a rewrite copies untouched members without decoding them.
type field struct {
	key        string
	start, end int // the value's bytes
}

var errNotObject = errors.New("request body must be a JSON object")

// topLevel lists the members of the JSON object in body. body must already
// be valid JSON (json.Valid), so the scanner only tracks nesting and strings.
func topLevel(body []byte, dst []field) ([]field, error) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, errNotObject
	}
	i++
	for {
		i = skipSpace(body, i)
		if i < len(body) && body[i] == '}' {
			return dst, nil
		}
		if i >= len(body) || body[i] != '"' {
			return nil, errNotObject
		}
		kEnd := skipString(body, i)
		key, err := decodeKey(body[i:kEnd])
		if err != nil {
			return nil, err
		}
		i = skipSpace(body, kEnd)
		i = skipSpace(body, i+1) // the colon
		vEnd := skipValue(body, i)
		dst = append(dst, field{key: key, start: i, end: vEnd})
		i = skipSpace(body, vEnd)
		if i < len(body) && body[i] == ',' {
			i++
		}
	}
}

func decodeKey(raw []byte) (string, error) {
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' {
			var s string
			err := json.Unmarshal(raw, &s)
			return s, err
		}
	}
	return string(raw[1 : len(raw)-1]), nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index after the string literal starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t' {
			i++
		}
		return i
	}
}

// edit is a member to set (value non-nil) or remove (value nil).
type edit struct {
	key   string
	value []byte
}

// applyEdits rewrites body's top-level members: each edited key keeps the
// position of its first occurrence, duplicates of it are dropped (so a
// client cannot smuggle a second "model" past the check), removed keys
// vanish, and keys not present are appended.
func applyEdits(body []byte, fields []field, edits []edit) []byte {
	out := make([]byte, 0, len(body)+64)
	out = append(out, '{')
	var written uint64 // bit i: edits[i] already placed
	first := true
	for _, f := range fields {
		idx := -1
		for j := range edits {
			if edits[j].key == f.key {
				idx = j
				break
			}
		}
		var val []byte
		switch {
		case idx < 0:
			val = body[f.start:f.end]
		case written&(1<<idx) != 0 || edits[idx].value == nil:
			continue
		default:
			written |= 1 << idx
			val = edits[idx].value
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendJSONString(out, f.key)
		out = append(out, ':')
		out = append(out, val...)
	}
	for j, e := range edits {
		if e.value == nil || written&(1<<j) != 0 {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendJSONString(out, e.key)
		out = append(out, ':')
		out = append(out, e.value...)
	}
	return append(out, '}')
}
