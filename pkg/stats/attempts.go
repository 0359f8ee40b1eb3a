package stats

import "time"

// Attempt is one try of an ai-proxy-advanced target for a request.
type Attempt struct {
	// Target names the target: "<index>:<provider>/<model>".
	Target string
	// Status is the upstream's HTTP status, 0 when none arrived.
	Status int
	// Outcome is "ok", or why the attempt failed: a failover criterion
	// (error, timeout, http_429, ...) or "final" for an answer returned
	// as it was (a status not in failover_criteria).
	Outcome string
	Latency time.Duration
}

// appendAttempts appends "target" and "attempts" to the line: the target
// that answered and every try, in order.
func appendAttempts(b []byte, rec *Record) []byte {
	if len(rec.Attempts) == 0 {
		return b
	}
	if rec.Target != "" {
		b = appendStringField(b, "target", rec.Target)
	}
	b = append(appendKey(b, "attempts"), '[')
	for i, a := range rec.Attempts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendStringField(b, "target", a.Target)
		b = appendIntField(b, "status", int64(a.Status))
		b = appendStringField(b, "outcome", a.Outcome)
		b = appendFloatField(b, "latency_ms", ms(a.Latency.Microseconds()))
		b = append(b, '}')
	}
	return append(b, ']')
}
