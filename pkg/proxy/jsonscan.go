package proxy

import (
	"encoding/json"
	"errors"
)

// field is one top-level member of a JSON object, as byte offsets into the
// body, so that a rewrite copies untouched members without decoding them.
type field struct {
	key        string
	escaped    bool // the name was written with escapes
	start, end int  // the value's bytes
}

var (
	errNotObject = errors.New("request body must be a JSON object")
	errInvalid   = errors.New("request body is not valid JSON")
)

// maxDepth bounds nesting as encoding/json does, so that a hostile body
// cannot exhaust the stack.
const maxDepth = 10000

// topLevel validates body as JSON and lists the members of its top-level
// object in one pass: the body is read once, not once by json.Valid and
// again to find the members. It accepts exactly what json.Valid accepts
// (invalid UTF-8 inside strings included) and returns errInvalid for
// anything else, errNotObject for valid JSON that is not an object.
func topLevel(body []byte, dst []field) ([]field, error) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		if end, ok := scanValue(body, i, 0); ok && skipSpace(body, end) == len(body) {
			return nil, errNotObject
		}
		return nil, errInvalid
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return atEnd(body, i+1, dst)
	}
	for {
		if i >= len(body) || body[i] != '"' {
			return nil, errInvalid
		}
		kStart := i
		kEnd, ok := scanString(body, i)
		if !ok {
			return nil, errInvalid
		}
		i = skipSpace(body, kEnd)
		if i >= len(body) || body[i] != ':' {
			return nil, errInvalid
		}
		vStart := skipSpace(body, i+1)
		vEnd, ok := scanValue(body, vStart, 1)
		if !ok {
			return nil, errInvalid
		}
		key, escaped, err := decodeKey(body[kStart:kEnd])
		if err != nil {
			return nil, errInvalid
		}
		dst = append(dst, field{key: key, escaped: escaped, start: vStart, end: vEnd})
		i = skipSpace(body, vEnd)
		if i >= len(body) {
			return nil, errInvalid
		}
		switch body[i] {
		case ',':
			i = skipSpace(body, i+1)
		case '}':
			return atEnd(body, i+1, dst)
		default:
			return nil, errInvalid
		}
	}
}

// atEnd accepts only white space after the top-level object.
func atEnd(body []byte, i int, fields []field) ([]field, error) {
	if skipSpace(body, i) != len(body) {
		return nil, errInvalid
	}
	return fields, nil
}

func decodeKey(raw []byte) (string, bool, error) {
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' {
			return unescapeKey(raw)
		}
	}
	return internKey(raw[1 : len(raw)-1]), false, nil
}

// commonKeys are the member names of nearly every chat request, answer and
// usage object; decodeKey returns these strings instead of allocating a copy.
var commonKeys = [...]string{
	"model", "messages", "stream", "stream_options", "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens",
	"user", "prompt", "n", "stop", "tools", "tool_choice", "response_format", "seed",
	"id", "object", "created", "choices", "usage", "system_fingerprint", "service_tier",
	"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details", "cached_tokens", "audio_tokens",
}

func internKey(k []byte) string {
	for _, c := range commonKeys {
		if string(k) == c {
			return c
		}
	}
	return string(k)
}

// unescapeKey is decodeKey's rare path, apart so that its heap variable
// costs nothing to keys without escapes.
func unescapeKey(raw []byte) (string, bool, error) {
	var key string
	err := json.Unmarshal(raw, &key)
	return key, true, err
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// scanValue validates the JSON value starting at b[i] and returns the index
// after it.
func scanValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i)
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return i, false
		}
		return scanContainer(b, i, depth+1)
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return i, false
}

// scanContainer validates the object or array starting at b[i].
func scanContainer(b []byte, i, depth int) (int, bool) {
	obj := b[i] == '{'
	closer := byte(']')
	if obj {
		closer = '}'
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, true
	}
	for {
		var ok bool
		if obj {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			if i, ok = scanString(b, i); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			i = skipSpace(b, i+1)
		}
		if i, ok = scanValue(b, i, depth); !ok {
			return i, false
		}
		i = skipSpace(b, i)
		switch {
		case i >= len(b):
			return i, false
		case b[i] == ',':
			i = skipSpace(b, i+1)
		case b[i] == closer:
			return i + 1, true
		default:
			return i, false
		}
	}
}

// scanString validates the string literal starting at b[i] and returns the
// index after its closing quote.
func scanString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		// Most of a body is string contents: skip plain bytes eight at a
		// time through a table before deciding on the one that is not.
		for i+8 <= len(b) && plainByte[b[i]] && plainByte[b[i+1]] && plainByte[b[i+2]] && plainByte[b[i+3]] &&
			plainByte[b[i+4]] && plainByte[b[i+5]] && plainByte[b[i+6]] && plainByte[b[i+7]] {
			i += 8
		}
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// plainByte marks the bytes a JSON string holds as they are: all but the
// quote, the backslash and control characters (json.Valid accepts any
// other byte, invalid UTF-8 included).
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// scanNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}
