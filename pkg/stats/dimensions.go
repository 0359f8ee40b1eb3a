package stats

import "sync"

// DefaultMaxModels is how many model names a client chose a process puts in
// the Model dimension before it reports every further one as OtherModel.
const DefaultMaxModels = 32

// Dimension values used when the real one is missing or not admitted.
const (
	// OtherModel stands for every model name beyond the bound.
	OtherModel = "other"
	// NoValue stands for an empty value (no route matched, no model was
	// resolved): CloudWatch refuses empty dimension values.
	NoValue = "none"
)

// maxModelLen bounds one dimension value; real model names are far
// shorter, and CloudWatch's limit is 1024.
const maxModelLen = 128

// modelSet bounds the values of the Model dimension. Each distinct value
// is a new set of custom metrics on the bill, and on a route whose model
// comes from the client (a path capture, a header, the body) a client can
// invent any number of names; an upstream that echoes the model back
// cannot be trusted to bound them either. So:
//
//   - a model the route's configuration fixes is always its own value (the
//     operator chose it; the configuration bounds it);
//   - a model a client chose gets its own value only once an upstream has
//     accepted it with a 2xx answer (OpenAI answers 404 for a model it
//     does not have), and only for the first max such names this process
//     sees; before acceptance, and beyond the bound, it is OtherModel.
//
// The bound is per process: across a fleet of Lambda environments the
// number of values is at most max times the concurrent environments, and in
// practice the set of models the upstream really serves.
type modelSet struct {
	max  int
	mu   sync.Mutex
	seen map[string]struct{}
}

func (s *modelSet) dimension(rec *Record) string {
	name := rec.RequestModel
	switch {
	case name == "":
		return NoValue
	case rec.ModelFixed:
		return name
	case len(name) > maxModelLen:
		return OtherModel
	}
	accepted := rec.Status >= 200 && rec.Status < 300
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[name]; ok {
		return name
	}
	if !accepted || len(s.seen) >= s.max {
		return OtherModel
	}
	if s.seen == nil {
		s.seen = make(map[string]struct{})
	}
	s.seen[name] = struct{}{}
	return name
}

func orNone(s string) string {
	if s == "" {
		return NoValue
	}
	return s
}
