package configsource

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/smithy-go"
)

// SafeError returns err in a form that can be logged or returned to a
// caller without the risk of quoting a parameter value.
//
// SSM's API errors echo request fields (parameter names), never values: the
// only SDK errors that can carry response bytes are deserialization
// failures, whose wrapped decoder error may quote part of the body, which
// holds decrypted values. Those are replaced by a fixed message; every
// other error is returned as is, so errors.Is / errors.As keep working.
func SafeError(err error) error {
	if err == nil {
		return nil
	}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return errUndecodable
	}
	return err
}

var errUndecodable = errors.New("the SSM response could not be decoded (details withheld: the body holds parameter values)")

// redactor remembers resolved secret values so that an error built after
// they were substituted into a document (config.Parse validation messages
// quote some field values) can be scrubbed before anyone sees it.
type redactor struct {
	values []string
}

// minRedactLen skips values too short to be secrets: scrubbing "a" would
// shred the message and hide nothing.
const minRedactLen = 4

// add remembers v and the forms a message may spell it in: Go-quoted
// (%q, %+q) and JSON-escaped, without their quotes. A value with a quote,
// backslash, control or non-ASCII character differs in each.
func (r *redactor) add(v string) {
	if len(v) < minRedactLen {
		return
	}
	r.values = append(r.values, v)
	j, _ := json.Marshal(v) // escapes <, > and & too
	for _, q := range []string{strconv.Quote(v), strconv.QuoteToASCII(v), string(j)} {
		if q = q[1 : len(q)-1]; q != v && !slices.Contains(r.values, q) {
			r.values = append(r.values, q)
		}
	}
}

// scrub returns err unchanged when its message holds no resolved value
// (keeping *config.FieldError and friends reachable with errors.As), and
// otherwise a plain error with every value replaced. The original is not
// wrapped, so no caller can reach the unscrubbed text.
func (r *redactor) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	out := msg
	// Longest first, so that no shorter form leaves part of a longer one.
	vals := slices.Clone(r.values)
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	for _, v := range vals {
		out = strings.ReplaceAll(out, v, "[redacted]")
	}
	if out == msg {
		return err
	}
	return errors.New(out)
}
