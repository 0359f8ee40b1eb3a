package proxy

import (
	"bytes"
	"encoding/json"
)

// jsonStream validates a JSON document fed to it in pieces, as it is
// relayed, and reports the top-level object's members as they complete:
// the key of each, and the raw bytes of the values asked for, each capped.
// It holds no part of the document beyond those capped values and a stack
// of open containers (bounded by maxDepth), so an answer of any size costs
// the same few hundred bytes.
type jsonStream struct {
	state  uint8
	stack  []byte // '{' or '[' of each open container
	inKey  bool   // the string being scanned is an object key
	lit    string // the rest of the literal being scanned
	hexes  int    // \u digits still expected
	failed bool
	ended  bool // the top-level value is complete
	object bool // the top-level value is an object

	key       []byte // the depth-1 key being read, raw (capped)
	member    []byte // the depth-1 member whose value is being scanned
	keyBuf    [maxKey + 1]byte
	memberBuf [maxKey]byte
	capture   []byte // that value's raw bytes, when wanted
	capLimit  int    // 0: not capturing
	capOver   bool

	sink jsonSink // nil: validate only
}

// jsonSink hears about the top-level members of a scanned object. Keys
// are decoded and valid only during the call.
type jsonSink interface {
	// sawKey: a member's key has been read; first is its value's first byte.
	sawKey(key []byte, first byte)
	// wantValue: how many bytes of that value to capture (0 for none).
	wantValue(key []byte) int
	// gotValue: the captured value, complete (raw is nil when it was
	// longer than wanted, and over is true).
	gotValue(key, raw []byte, over bool)
}

const (
	jsValue       uint8 = iota // a value is expected
	jsObjKeyOrEnd              // after '{'
	jsObjKey                   // after ',' in an object
	jsColon
	jsObjNext // after a member: ',' or '}'
	jsArrValueOrEnd
	jsArrNext
	jsString
	jsStringEsc
	jsStringHex
	jsNumMinus
	jsNumZero
	jsNumInt
	jsNumDot
	jsNumFrac
	jsNumE
	jsNumESign
	jsNumExp
	jsLiteral
	jsEnd
)

// maxKey caps the top-level key kept for matching; longer keys match none
// of the members the proxy looks for.
const maxKey = 64

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// Write feeds the next bytes of the document. It never fails; whether the
// document was well formed is read with valid once Close has ended it.
// Each state's method scans b[i] and returns where the capture of this
// piece now starts.
func (s *jsonStream) Write(b []byte) (int, error) {
	start := 0 // where the capture of this piece starts
	for i := 0; i < len(b) && !s.failed; i++ {
		switch s.state {
		case jsValue, jsArrValueOrEnd:
			start = s.atValue(b, start, i)
		case jsObjKeyOrEnd, jsObjKey:
			start = s.atKey(b, start, i)
		case jsColon:
			s.atColon(b[i])
		case jsObjNext, jsArrNext:
			start = s.afterElement(b, start, i)
		case jsString, jsStringEsc, jsStringHex:
			start, i = s.inString(b, start, i)
		case jsLiteral:
			start = s.inLiteral(b, start, i)
		case jsEnd:
			s.failed = !isSpace(b[i])
		default: // a number
			if !s.numberByte(b[i]) && !s.failed {
				// b[i] ends the number and is scanned again as what
				// follows it.
				start = s.endValue(b, start, i)
				i--
			}
		}
	}
	if s.capLimit > 0 && !s.failed {
		s.keep(b[start:])
	}
	return len(b), nil
}

// atValue scans b[i] where a value is expected, or, first in an array,
// its closing ']'. A top-level member's value is offered to the sink.
func (s *jsonStream) atValue(b []byte, start, i int) int {
	c := b[i]
	switch {
	case isSpace(c):
		return start
	case c == ']' && s.state == jsArrValueOrEnd:
		return s.closeContainer(b, start, i)
	}
	if s.inMember() && s.sink != nil {
		s.sink.sawKey(s.member, c)
		s.capLimit = s.sink.wantValue(s.member)
		start = i
	}
	s.beginValue(c)
	return start
}

// atKey scans b[i] where an object key is expected, or, first in an
// object, its closing '}'.
func (s *jsonStream) atKey(b []byte, start, i int) int {
	switch c := b[i]; {
	case isSpace(c):
	case c == '"':
		s.state, s.inKey = jsString, true
		s.key = s.keyBuf[:0]
	case c == '}' && s.state == jsObjKeyOrEnd:
		return s.closeContainer(b, start, i)
	default:
		s.failed = true
	}
	return start
}

// atColon scans c between a key and its value.
func (s *jsonStream) atColon(c byte) {
	switch {
	case isSpace(c):
	case c == ':':
		s.state = jsValue
	default:
		s.failed = true
	}
}

// afterElement scans b[i] after an object member or array element: a
// ',' before the next one, or the container's closer.
func (s *jsonStream) afterElement(b []byte, start, i int) int {
	closer := byte('}')
	if s.state == jsArrNext {
		closer = ']'
	}
	switch c := b[i]; {
	case isSpace(c):
	case c == ',' && closer == '}':
		s.state = jsObjKey
	case c == ',':
		s.state = jsValue
	case c == closer:
		return s.closeContainer(b, start, i)
	default:
		s.failed = true
	}
	return start
}

// inString scans string bytes from b[i]: a run of plain bytes at once (the
// bulk of an answer), then one byte that may end the run. It also returns
// the index of the last byte it scanned.
func (s *jsonStream) inString(b []byte, start, i int) (int, int) {
	if s.state == jsString {
		j := i
		for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 {
			j++
		}
		s.keepKey(b[i:j])
		if j == len(b) {
			return start, j - 1
		}
		i = j
	}
	s.keepKey(b[i : i+1])
	if !s.stringByte(b[i]) {
		return start, i
	}
	if !s.inKey {
		return s.endValue(b, start, i+1), i
	}
	s.inKey, s.state = false, jsColon
	if len(s.stack) == 1 {
		s.member = s.decodeKey()
	}
	return start, i
}

// keepKey adds p to the raw top-level key being read, keeping one byte
// past maxKey so that decodeKey can tell a key that is too long.
func (s *jsonStream) keepKey(p []byte) {
	if s.inKey && len(s.stack) == 1 && len(s.key) <= maxKey {
		s.key = append(s.key, p[:min(len(p), maxKey+1-len(s.key))]...)
	}
}

// inLiteral scans b[i] inside true, false or null.
func (s *jsonStream) inLiteral(b []byte, start, i int) int {
	if b[i] != s.lit[0] {
		s.failed = true
		return start
	}
	s.lit = s.lit[1:]
	if s.lit == "" {
		return s.endValue(b, start, i+1)
	}
	return start
}

// closeContainer pops the container that b[i] closes, which ends a value.
func (s *jsonStream) closeContainer(b []byte, start, i int) int {
	s.stack = s.stack[:len(s.stack)-1]
	return s.endValue(b, start, i+1)
}

// inMember reports whether the scan is inside a top-level member's value.
func (s *jsonStream) inMember() bool {
	return len(s.stack) == 1 && s.stack[0] == '{' && len(s.member) > 0
}

// Close ends the document: a number at the top level ends here.
func (s *jsonStream) Close() error {
	if s.state >= jsNumMinus && s.state <= jsNumExp && len(s.stack) == 0 && !s.failed {
		if s.state == jsNumMinus || s.state == jsNumDot || s.state == jsNumE || s.state == jsNumESign {
			s.failed = true
		} else {
			s.state, s.ended = jsEnd, true
		}
	}
	if s.state != jsEnd {
		s.failed = true
	}
	return nil
}

// valid reports a complete, well-formed document (after Close).
func (s *jsonStream) valid() bool { return s.ended && !s.failed }

// beginValue starts the value whose first byte is c.
func (s *jsonStream) beginValue(c byte) {
	switch {
	case c == '{' || c == '[':
		if len(s.stack) >= maxDepth {
			s.failed = true
			return
		}
		if len(s.stack) == 0 && c == '{' {
			s.object = true
		}
		s.stack = append(s.stack, c)
		s.state = jsObjKeyOrEnd
		if c == '[' {
			s.state = jsArrValueOrEnd
		}
	case c == '"':
		s.state = jsString
	case c == '-':
		s.state = jsNumMinus
	case c == '0':
		s.state = jsNumZero
	case c >= '1' && c <= '9':
		s.state = jsNumInt
	case c == 't':
		s.state, s.lit = jsLiteral, "rue"
	case c == 'f':
		s.state, s.lit = jsLiteral, "alse"
	case c == 'n':
		s.state, s.lit = jsLiteral, "ull"
	default:
		s.failed = true
	}
}

// endValue moves past a complete value. When that completes a top-level
// member, it hands over the member's captured value and returns end, where
// the next capture may start; otherwise it returns start.
func (s *jsonStream) endValue(b []byte, start, end int) int {
	switch {
	case len(s.stack) == 0:
		s.state, s.ended = jsEnd, true
		return end
	case s.stack[len(s.stack)-1] == '[':
		s.state = jsArrNext
	default:
		s.state = jsObjNext
	}
	if s.inMember() {
		if s.capLimit > 0 {
			s.keep(b[start:end])
			raw := s.capture
			if s.capOver {
				raw = nil
			}
			s.sink.gotValue(s.member, raw, s.capOver)
		}
		s.member, s.capture, s.capLimit, s.capOver = nil, s.capture[:0], 0, false
		return end
	}
	return start
}

// keep adds b to the captured value, within its limit.
func (s *jsonStream) keep(b []byte) {
	if s.capOver {
		return
	}
	if len(s.capture)+len(b) > s.capLimit {
		s.capOver, s.capture = true, nil
		return
	}
	s.capture = append(s.capture, b...)
}

// decodeKey decodes the key just read (raw bytes with its closing quote)
// into memberBuf; a key longer than maxKey decodes to nothing.
func (s *jsonStream) decodeKey() []byte {
	raw := s.key
	if len(raw) > maxKey || len(raw) < 2 {
		return nil
	}
	raw = raw[:len(raw)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return append(s.memberBuf[:0], raw...)
	}
	var k string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k) != nil || len(k) > maxKey {
		return nil
	}
	return append(s.memberBuf[:0], k...)
}
