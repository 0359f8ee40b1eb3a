package configsource

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// EnvPrefetch names the SSM parameters the document is expected to
// reference (comma-separated), e.g. as the template knows them: each load
// then reads the document and those parameters in one GetParameters call
// instead of a GetParameter and then a GetParameters, one SSM round trip
// less on every cold start. The list is only a hint, checked against the
// document on every load: a parameter the document does not reference is
// dropped unread, and one it references but the list lacks is read by a
// second call as without the hint.
const EnvPrefetch = "AIPROXY_CONFIG_PREFETCH"

// ParsePrefetch reads EnvPrefetch's value: names split on commas and
// spaces, duplicates and empty entries dropped. Names with a version or
// label selector are left out (SSM answers those under another name; they
// are read on their own, as without the hint), and so is everything past
// the nine that fit beside the document in one call.
func ParsePrefetch(v string) []string {
	var out []string
	for _, n := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if strings.Contains(n, ":") || slices.Contains(out, n) || len(out) == MaxNamesPerCall-1 {
			continue
		}
		out = append(out, n)
	}
	return out
}

// fetchWithPrefetch reads the document and the prefetch names in one call.
// It returns the document parameter and a client that answers the
// resolver's GetParameters from what that call returned, and asks SSM only
// for names it did not cover.
func (s *SSMSource) fetchWithPrefetch(ctx context.Context) (*ssmtypes.Parameter, *prefetched, error) {
	names := append([]string{s.param}, slices.DeleteFunc(slices.Clone(s.prefetch), func(n string) bool { return n == s.param })...)
	out, err := s.client.GetParameters(ctx, &ssm.GetParametersInput{Names: names, WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, nil, fmt.Errorf("read config parameter %q: %w", s.param, SafeError(err))
	}
	pre := &prefetched{SSMAPI: s.client, asked: names[1:], values: map[string]ssmtypes.Parameter{}, invalid: map[string]bool{}}
	var doc *ssmtypes.Parameter
	for i, p := range out.Parameters {
		if aws.ToString(p.Name) == s.param {
			doc = &out.Parameters[i]
			continue
		}
		pre.values[aws.ToString(p.Name)] = p
	}
	for _, n := range out.InvalidParameters {
		if n == s.param {
			return nil, nil, fmt.Errorf("read config parameter %q: %w", s.param, &MissingParametersError{Names: []string{n}})
		}
		pre.invalid[n] = true
	}
	if doc == nil {
		return nil, nil, fmt.Errorf("read config parameter %q: empty response", s.param)
	}
	return doc, pre, nil
}

// prefetched answers GetParameters from one earlier call where it can. It
// lives for one load only, so nothing read ahead outlives the document
// that did (or did not) reference it.
type prefetched struct {
	SSMAPI
	asked   []string // the names read ahead
	values  map[string]ssmtypes.Parameter
	invalid map[string]bool
	used    []string // names the resolver asked for that were read ahead
	missed  []string // names the resolver asked for that were not
}

func (p *prefetched) GetParameters(ctx context.Context, in *ssm.GetParametersInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	out := &ssm.GetParametersOutput{}
	var rest []string
	for _, n := range in.Names {
		switch v, ok := p.values[n]; {
		case ok:
			out.Parameters = append(out.Parameters, v)
			p.used = append(p.used, n)
		case p.invalid[n]:
			out.InvalidParameters = append(out.InvalidParameters, n)
			p.used = append(p.used, n)
		default:
			rest = append(rest, n)
		}
	}
	if len(rest) == 0 {
		return out, nil
	}
	p.missed = append(p.missed, rest...)
	more, err := p.SSMAPI.GetParameters(ctx, &ssm.GetParametersInput{Names: rest, WithDecryption: in.WithDecryption}, optFns...)
	if err != nil {
		return nil, err
	}
	out.Parameters = append(out.Parameters, more.Parameters...)
	out.InvalidParameters = append(out.InvalidParameters, more.InvalidParameters...)
	return out, nil
}

// unused are the names read ahead that the document did not reference.
func (p *prefetched) unused() []string {
	return slices.DeleteFunc(slices.Clone(p.asked), func(n string) bool { return slices.Contains(p.used, n) })
}
