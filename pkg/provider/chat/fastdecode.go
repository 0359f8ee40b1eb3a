package chat

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// fastDecode reads a chat request in one pass without reflection, for
// the requests clients actually send. It takes only what it can decode
// exactly as decodeStrict would: valid JSON, every member name the exact,
// unescaped name of a field and at most once per object, each value of
// its field's JSON type or null. For anything else (an unknown member, a
// name in other case, a repeated member, a float where an int goes,
// invalid JSON...) it reports false and decodeStrict decides, so that the
// result, and every error message, is the one encoding/json gives
// (FuzzDecodeMatchesStrict).
func fastDecode(body []byte) (*Request, bool) {
	d := reader{b: body}
	r := &Request{}
	if !d.request(r) {
		return nil, false
	}
	d.space()
	if d.i != len(d.b) {
		return nil, false
	}
	return r, true
}

// reader is fastDecode's position in the body. Its methods report false
// where fastDecode gives up.
type reader struct {
	b   []byte
	i   int
	str string // the body as a string, made at the first string value
}

// maxSkipDepth bounds the nesting of a value fastDecode skips or keeps
// raw; deeper ones are left to encoding/json (whose own limit is 10000).
const maxSkipDepth = 256

func (d *reader) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte (0 at the end).
func (d *reader) peek() byte {
	d.space()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// null consumes a null, if that is what comes next.
func (d *reader) null() bool {
	if d.peek() == 'n' && d.literal("null") {
		return true
	}
	return false
}

func (d *reader) literal(lit string) bool {
	if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// open consumes c ('{' or '[') after white space.
func (d *reader) open(c byte) bool {
	if d.peek() != c {
		return false
	}
	d.i++
	return true
}

// member reads the next member name of an object opened with open:
// end is true at its closing brace. A name with an escape or a byte
// beyond ASCII is given up on (encoding/json's matching of those goes
// beyond ASCII case folding).
func (d *reader) member(first bool) (name string, end, ok bool) {
	c := d.peek()
	switch {
	case c == '}':
		d.i++
		return "", true, true
	case !first && c == ',':
		d.i++
		c = d.peek()
	case !first:
		return "", false, false
	}
	if c != '"' {
		return "", false, false
	}
	start := d.i + 1
	for d.i = start; d.i < len(d.b); d.i++ {
		c := d.b[d.i]
		if c == '"' {
			break
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return "", false, false
		}
	}
	if d.i >= len(d.b) {
		return "", false, false
	}
	key := d.b[start:d.i]
	d.i++
	if d.peek() != ':' {
		return "", false, false
	}
	d.i++
	return d.substr(start, start+len(key)), false, true
}

// element reads past the separator before an array's next element: end
// is true at its closing bracket.
func (d *reader) element(first bool) (end, ok bool) {
	c := d.peek()
	switch {
	case c == ']':
		d.i++
		return true, true
	case first:
		return false, true
	case c == ',':
		d.i++
		return false, true
	}
	return false, false
}

// substr is body[start:end] as a string, sharing one copy of the body.
func (d *reader) substr(start, end int) string {
	if d.str == "" {
		d.str = string(d.b)
	}
	return d.str[start:end]
}

// stringInto decodes a string, or leaves dst as it is for null.
func (d *reader) stringInto(dst *string) bool {
	if d.null() {
		return true
	}
	s, ok := d.string()
	*dst = s
	return ok
}

// string decodes a string value as encoding/json does: unescaped and
// valid UTF-8 it is the bytes between the quotes; escaped, it is unescaped
// here unless it holds a surrogate (encoding/json pairs them or makes them
// U+FFFD) or invalid UTF-8 (made U+FFFD), which encoding/json unquotes.
func (d *reader) string() (string, bool) {
	if d.peek() != '"' {
		return "", false
	}
	start := d.i
	plain, ok := d.skipString()
	if !ok {
		return "", false
	}
	if plain {
		return d.substr(start+1, d.i-1), true
	}
	if in := d.b[start+1 : d.i-1]; utf8.Valid(in) {
		if s, ok := unescape(in); ok {
			return s, true
		}
	}
	var s string
	if json.Unmarshal(d.b[start:d.i], &s) != nil {
		return "", false
	}
	return s, true
}

// unescape decodes the escapes of a string's valid UTF-8 bytes, checked
// by skipString; false for a \u escape of a surrogate.
func unescape(in []byte) (string, bool) {
	var b strings.Builder
	b.Grow(len(in))
	for i := 0; i < len(in); {
		c := in[i]
		if c != '\\' {
			j := i + 1
			for j < len(in) && in[j] != '\\' {
				j++
			}
			b.Write(in[i:j])
			i = j
			continue
		}
		switch e := in[i+1]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			var r rune
			for _, h := range in[i+2 : i+6] { // hex digits (skipString)
				r = r<<4 | rune(unhex(h))
			}
			if utf16.IsSurrogate(r) {
				return "", false
			}
			b.WriteRune(r)
			i += 6
			continue
		}
		i += 2
	}
	return b.String(), true
}

// skipString moves past the string at d.i, checking it as JSON; plain
// is false when it holds an escape or bytes that are not valid UTF-8.
func (d *reader) skipString() (plain, ok bool) {
	plain, ascii := true, true
	start := d.i + 1
	for i := start; i < len(d.b); i++ {
		c := d.b[i]
		switch {
		case c == '"':
			d.i = i + 1
			if !ascii && plain && !utf8.Valid(d.b[start:i]) {
				plain = false
			}
			return plain, true
		case c < 0x20:
			return false, false
		case c >= 0x80:
			ascii = false
		case c == '\\':
			plain = false
			i++
			if i >= len(d.b) {
				return false, false
			}
			switch d.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d.b) {
					return false, false
				}
				for _, h := range d.b[i+1 : i+5] {
					if !isHex(h) {
						return false, false
					}
				}
				i += 4
			default:
				return false, false
			}
		}
	}
	return false, false
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// boolean decodes true or false.
func (d *reader) boolean() (v, ok bool) {
	switch d.peek() {
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	}
	return false, false
}

// boolInto decodes true or false, or leaves dst as it is for null.
func (d *reader) boolInto(dst *bool) bool {
	if d.null() {
		return true
	}
	v, ok := d.boolean()
	*dst = v
	return ok
}

// boolPtr decodes true or false into a new bool, or nil for null.
func (d *reader) boolPtr(dst **bool) bool {
	if d.null() {
		return true
	}
	v, ok := d.boolean()
	*dst = &v
	return ok
}

// number moves past a JSON number and returns it.
func (d *reader) number() ([]byte, bool) {
	d.space()
	start, b, i := d.i, d.b, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	return b[start:i], true
}

// intPtr decodes an integer into a new int64-sized value (nil for null),
// as encoding/json does: strconv.ParseInt of the literal, so a fraction,
// an exponent or an overflow is given up on.
func intPtr[T int | int64](d *reader, dst **T) bool {
	if d.null() {
		return true
	}
	lit, ok := d.number()
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil || int64(T(n)) != n {
		return false
	}
	v := T(n)
	*dst = &v
	return true
}

// floatPtr decodes a number into a new float64 (nil for null).
func (d *reader) floatPtr(dst **float64) bool {
	if d.null() {
		return true
	}
	lit, ok := d.number()
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return false
	}
	*dst = &f
	return true
}

// raw keeps any value as json.RawMessage does: a copy of its bytes (null
// included).
func (d *reader) raw(dst *json.RawMessage) bool {
	d.space()
	start := d.i
	if !d.skip() {
		return false
	}
	*dst = append(json.RawMessage(nil), d.b[start:d.i]...)
	return true
}

// skip moves past any value, checking it as JSON.
func (d *reader) skip() bool {
	var stack [maxSkipDepth]byte // the closing byte of each open container
	depth := 0
	for {
		// A value is expected.
		switch c := d.peek(); {
		case c == '{' || c == '[':
			if depth == len(stack) {
				return false
			}
			d.i++
			stack[depth] = c + 2 // '}' or ']'
			depth++
			if d.peek() == stack[depth-1] {
				d.i++
				depth--
				break
			}
			if c == '{' && !d.skipName() {
				return false
			}
			continue
		case c == '"':
			if _, ok := d.skipString(); !ok {
				return false
			}
		case c == 't':
			if !d.literal("true") {
				return false
			}
		case c == 'f':
			if !d.literal("false") {
				return false
			}
		case c == 'n':
			if !d.literal("null") {
				return false
			}
		default:
			if _, ok := d.number(); !ok {
				return false
			}
		}
		// After a value: close containers, or a separator.
		for {
			if depth == 0 {
				return true
			}
			c := d.peek()
			if c == stack[depth-1] {
				d.i++
				depth--
				continue
			}
			if c != ',' {
				return false
			}
			d.i++
			if stack[depth-1] == '}' && !d.skipName() {
				return false
			}
			break
		}
	}
}

// skipName moves past a member name and its colon.
func (d *reader) skipName() bool {
	if d.peek() != '"' {
		return false
	}
	if _, ok := d.skipString(); !ok {
		return false
	}
	if d.peek() != ':' {
		return false
	}
	d.i++
	return true
}

// fields tracks the members an object has named, to give up on a
// repeated one (encoding/json decodes it over the first).
type fields uint64

func (f *fields) first(bit uint) bool {
	if *f&(1<<bit) != 0 {
		return false
	}
	*f |= 1 << bit
	return true
}

// lenient decides a name none of a struct's cases took where unknown
// members are ignored (a content part, decoded by Content.UnmarshalJSON
// without DisallowUnknownFields): skipped, unless encoding/json would match
// it to one of names in other case.
func (d *reader) lenient(name string, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(name, n) {
			return false
		}
	}
	return d.skip()
}

func (d *reader) request(r *Request) bool {
	if !d.open('{') {
		return false
	}
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "model":
			ok = seen.first(0) && d.stringInto(&r.Model)
		case "messages":
			ok = seen.first(1) && d.messages(&r.Messages)
		case "stream":
			ok = seen.first(2) && d.boolInto(&r.Stream)
		case "stream_options":
			ok = seen.first(3) && d.streamOptions(&r.StreamOptions)
		case "max_tokens":
			ok = seen.first(4) && intPtr(d, &r.MaxTokens)
		case "max_completion_tokens":
			ok = seen.first(5) && intPtr(d, &r.MaxCompletionTokens)
		case "temperature":
			ok = seen.first(6) && d.floatPtr(&r.Temperature)
		case "top_p":
			ok = seen.first(7) && d.floatPtr(&r.TopP)
		case "top_k":
			ok = seen.first(8) && intPtr(d, &r.TopK)
		case "stop":
			ok = seen.first(9) && d.stop(&r.Stop)
		case "n":
			ok = seen.first(10) && intPtr(d, &r.N)
		case "tools":
			ok = seen.first(11) && d.tools(&r.Tools)
		case "tool_choice":
			ok = seen.first(12) && d.toolChoice(&r.ToolChoice)
		case "parallel_tool_calls":
			ok = seen.first(13) && d.boolPtr(&r.ParallelToolCalls)
		case "reasoning_effort":
			ok = seen.first(14) && d.stringInto(&r.ReasoningEffort)
		case "response_format":
			ok = seen.first(15) && d.responseFormat(&r.ResponseFormat)
		case "logprobs":
			ok = seen.first(16) && d.boolPtr(&r.Logprobs)
		case "top_logprobs":
			ok = seen.first(17) && intPtr(d, &r.TopLogprobs)
		case "seed":
			ok = seen.first(18) && intPtr(d, &r.Seed)
		case "presence_penalty":
			ok = seen.first(19) && d.floatPtr(&r.PresencePenalty)
		case "frequency_penalty":
			ok = seen.first(20) && d.floatPtr(&r.FrequencyPenalty)
		case "logit_bias":
			ok = seen.first(21) && d.raw(&r.LogitBias)
		case "user":
			ok = seen.first(22) && d.stringInto(&r.User)
		case "metadata":
			ok = seen.first(23) && d.raw(&r.Metadata)
		case "store":
			ok = seen.first(24) && d.boolPtr(&r.Store)
		case "service_tier":
			ok = seen.first(25) && d.stringInto(&r.ServiceTier)
		case "modalities":
			ok = seen.first(26) && d.strings(&r.Modalities)
		case "functions":
			ok = seen.first(27) && d.raw(&r.Functions)
		case "function_call":
			ok = seen.first(28) && d.raw(&r.FunctionCall)
		default:
			return false // unknown, or in other case: decodeStrict says which
		}
		if !ok {
			return false
		}
	}
}

func (d *reader) streamOptions(dst **StreamOptions) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	o := &StreamOptions{}
	*dst = o
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		switch {
		case !ok:
			return false
		case end:
			return true
		case name != "include_usage" || !seen.first(0) || !d.boolInto(&o.IncludeUsage):
			return false
		}
	}
}

// strings decodes a list of strings (null: nil; []: empty, not nil).
func (d *reader) strings(dst *[]string) bool {
	if d.null() {
		*dst = nil
		return true
	}
	if !d.open('[') {
		return false
	}
	list := []string{}
	for first := true; ; first = false {
		end, ok := d.element(first)
		if !ok {
			return false
		}
		if end {
			*dst = list
			return true
		}
		var s string
		if !d.stringInto(&s) {
			return false
		}
		list = append(list, s)
	}
}

// stop is Stop.UnmarshalJSON: a string, a list of strings, or null.
func (d *reader) stop(dst *Stop) bool {
	if d.peek() == '"' {
		s, ok := d.string()
		*dst = Stop{s}
		return ok
	}
	var list []string
	if !d.strings(&list) {
		return false
	}
	*dst = list
	return true
}

// toolChoice is ToolChoice.UnmarshalJSON: a mode here, and a named
// function through the method itself.
func (d *reader) toolChoice(dst **ToolChoice) bool {
	if d.null() {
		return true
	}
	d.space()
	start := d.i
	if d.peek() == '"' {
		mode, ok := d.string()
		switch {
		case !ok:
			return false
		case mode == "none" || mode == "auto" || mode == "required":
			*dst = &ToolChoice{Mode: mode}
			return true
		}
		return false
	}
	if !d.skip() {
		return false
	}
	t := &ToolChoice{}
	*dst = t
	return t.UnmarshalJSON(d.b[start:d.i]) == nil
}

func (d *reader) responseFormat(dst **ResponseFormat) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	f := &ResponseFormat{}
	*dst = f
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "type":
			ok = seen.first(0) && d.stringInto(&f.Type)
		case "json_schema":
			ok = seen.first(1) && d.jsonSchema(f)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
}

func (d *reader) jsonSchema(f *ResponseFormat) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	f.JSONSchema = &struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict *bool           `json:"strict,omitempty"`
	}{}
	s := f.JSONSchema
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "name":
			ok = seen.first(0) && d.stringInto(&s.Name)
		case "schema":
			ok = seen.first(1) && d.raw(&s.Schema)
		case "strict":
			ok = seen.first(2) && d.boolPtr(&s.Strict)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
}

// messages decodes the messages (null: nil; []: empty, not nil).
func (d *reader) messages(dst *[]Message) bool {
	if d.null() {
		*dst = nil
		return true
	}
	if !d.open('[') {
		return false
	}
	list := []Message{}
	for first := true; ; first = false {
		end, ok := d.element(first)
		if !ok {
			return false
		}
		if end {
			*dst = list
			return true
		}
		list = append(list, Message{})
		if !d.message(&list[len(list)-1]) {
			return false
		}
	}
}

// message decodes one message; null leaves it zero.
func (d *reader) message(m *Message) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "role":
			ok = seen.first(0) && d.stringInto(&m.Role)
		case "content":
			ok = seen.first(1) && d.content(&m.Content)
		case "name":
			ok = seen.first(2) && d.stringInto(&m.Name)
		case "tool_calls":
			ok = seen.first(3) && d.toolCalls(&m.ToolCalls)
		case "tool_call_id":
			ok = seen.first(4) && d.stringInto(&m.ToolCallID)
		case "reasoning_content":
			ok = seen.first(5) && d.stringInto(&m.ReasoningContent)
		case "thinking_blocks":
			ok = seen.first(6) && d.thinkingBlocks(&m.ThinkingBlocks)
		case "refusal":
			ok = seen.first(7) && d.stringInto(&m.Refusal)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
}

// content is Content.UnmarshalJSON: null, a string, or a list of parts,
// whose unknown members encoding/json ignores there.
func (d *reader) content(c *Content) bool {
	switch d.peek() {
	case 'n':
		*c = Content{IsNull: true}
		return d.null()
	case '"':
		s, ok := d.string()
		*c = Content{Text: s}
		return ok
	case '[':
		*c = Content{IsParts: true}
		return d.parts(&c.Parts)
	}
	return false
}

func (d *reader) parts(dst *[]Part) bool {
	if !d.open('[') {
		return false
	}
	list := []Part{}
	for first := true; ; first = false {
		end, ok := d.element(first)
		if !ok {
			return false
		}
		if end {
			*dst = list
			return true
		}
		list = append(list, Part{})
		if !d.part(&list[len(list)-1]) {
			return false
		}
	}
}

var partNames = []string{"type", "text", "image_url", "input_audio", "file", "cache_control"}

func (d *reader) part(p *Part) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "type":
			ok = seen.first(0) && d.stringInto(&p.Type)
		case "text":
			ok = seen.first(1) && d.stringInto(&p.Text)
		case "image_url":
			ok = seen.first(2) && d.imageURL(&p.ImageURL)
		case "input_audio":
			ok = seen.first(3) && d.inputAudio(&p.InputAudio)
		case "file":
			ok = seen.first(4) && d.file(&p.File)
		case "cache_control":
			ok = seen.first(5) && d.raw(&p.CacheControl)
		default:
			ok = d.lenient(name, partNames...)
		}
		if !ok {
			return false
		}
	}
}

func (d *reader) imageURL(dst **ImageURL) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	u := &ImageURL{}
	*dst = u
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "url":
			ok = seen.first(0) && d.stringInto(&u.URL)
		case "detail":
			ok = seen.first(1) && d.stringInto(&u.Detail)
		default:
			ok = d.lenient(name, "url", "detail")
		}
		if !ok {
			return false
		}
	}
}

func (d *reader) inputAudio(dst **InputAudio) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	a := &InputAudio{}
	*dst = a
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "data":
			ok = seen.first(0) && d.stringInto(&a.Data)
		case "format":
			ok = seen.first(1) && d.stringInto(&a.Format)
		default:
			ok = d.lenient(name, "data", "format")
		}
		if !ok {
			return false
		}
	}
}

func (d *reader) file(dst **File) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	f := &File{}
	*dst = f
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "file_data":
			ok = seen.first(0) && d.stringInto(&f.FileData)
		case "file_id":
			ok = seen.first(1) && d.stringInto(&f.FileID)
		case "filename":
			ok = seen.first(2) && d.stringInto(&f.Filename)
		default:
			ok = d.lenient(name, "file_data", "file_id", "filename")
		}
		if !ok {
			return false
		}
	}
}

func (d *reader) toolCalls(dst *[]ToolCall) bool {
	if d.null() {
		*dst = nil
		return true
	}
	if !d.open('[') {
		return false
	}
	list := []ToolCall{}
	for first := true; ; first = false {
		end, ok := d.element(first)
		if !ok {
			return false
		}
		if end {
			*dst = list
			return true
		}
		list = append(list, ToolCall{})
		if !d.toolCall(&list[len(list)-1]) {
			return false
		}
	}
}

func (d *reader) toolCall(c *ToolCall) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "index":
			ok = seen.first(0) && intPtr(d, &c.Index)
		case "id":
			ok = seen.first(1) && d.stringInto(&c.ID)
		case "type":
			ok = seen.first(2) && d.stringInto(&c.Type)
		case "function":
			ok = seen.first(3) && d.functionCall(&c.Function)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
}

func (d *reader) functionCall(f *FunctionCall) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "name":
			ok = seen.first(0) && d.stringInto(&f.Name)
		case "arguments":
			ok = seen.first(1) && d.stringInto(&f.Arguments)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
}

func (d *reader) thinkingBlocks(dst *[]ThinkingBlock) bool {
	if d.null() {
		*dst = nil
		return true
	}
	if !d.open('[') {
		return false
	}
	list := []ThinkingBlock{}
	for first := true; ; first = false {
		end, ok := d.element(first)
		if !ok {
			return false
		}
		if end {
			*dst = list
			return true
		}
		list = append(list, ThinkingBlock{})
		if !d.thinkingBlock(&list[len(list)-1]) {
			return false
		}
	}
}

func (d *reader) thinkingBlock(b *ThinkingBlock) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "type":
			ok = seen.first(0) && d.stringInto(&b.Type)
		case "thinking":
			ok = seen.first(1) && d.stringInto(&b.Thinking)
		case "signature":
			ok = seen.first(2) && d.stringInto(&b.Signature)
		case "data":
			ok = seen.first(3) && d.stringInto(&b.Data)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
}

func (d *reader) tools(dst *[]Tool) bool {
	if d.null() {
		*dst = nil
		return true
	}
	if !d.open('[') {
		return false
	}
	list := []Tool{}
	for first := true; ; first = false {
		end, ok := d.element(first)
		if !ok {
			return false
		}
		if end {
			*dst = list
			return true
		}
		list = append(list, Tool{})
		if !d.tool(&list[len(list)-1]) {
			return false
		}
	}
}

func (d *reader) tool(t *Tool) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "type":
			ok = seen.first(0) && d.stringInto(&t.Type)
		case "function":
			ok = seen.first(1) && d.function(&t.Function)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
}

func (d *reader) function(f *Function) bool {
	if d.null() {
		return true
	}
	if !d.open('{') {
		return false
	}
	var seen fields
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch name {
		case "name":
			ok = seen.first(0) && d.stringInto(&f.Name)
		case "description":
			ok = seen.first(1) && d.stringInto(&f.Description)
		case "parameters":
			ok = seen.first(2) && d.raw(&f.Parameters)
		case "strict":
			ok = seen.first(3) && d.boolPtr(&f.Strict)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
}
