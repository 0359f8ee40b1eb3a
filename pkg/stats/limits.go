package stats

import (
	"encoding/json"
)

// Limits is what the rate-limiting plugins did to one request.
type Limits struct {
	// Refused: answered 429 by a limit, nothing sent upstream.
	Refused bool
	// StoreDown: the shared counter store could not be used.
	StoreDown bool
	// Remaining is what is left of each limit after this request's
	// reservation (served requests only).
	Remaining []Remaining
}

// Remaining is what is left of one limit, named as its headers name it
// ("rate-limiting Minute", "ai-rate-limiting-advanced 2592000-openai").
type Remaining struct {
	Limit string
	Value float64
}

// writeLimitsEMF writes the rate-limit metrics of a request that a limit
// covered, per consumer: RateLimited and RateLimitStoreErrors (counts), and
// one Remaining record per limit, so that an alarm can watch a team's
// budget run down. Requests no limit covers write nothing.
func (r *Recorder) writeLimitsEMF(rec *Record) {
	l := rec.Limits
	if l == nil {
		return
	}
	consumer := rec.Consumer
	if consumer == "" {
		consumer = "-"
	}
	lines := [][]byte{emfLine(r.namespace, rec, []string{"Consumer"}, map[string]any{
		"Consumer":             consumer,
		"RateLimited":          b2i(l.Refused),
		"RateLimitStoreErrors": b2i(l.StoreDown),
	}, "Count")}
	for _, rem := range l.Remaining {
		lines = append(lines, emfLine(r.namespace, rec, []string{"Consumer", "Limit"}, map[string]any{
			"Consumer":  consumer,
			"Limit":     rem.Limit,
			"Remaining": rem.Value,
		}, "None"))
	}
	for _, line := range lines {
		if line != nil {
			_, _ = r.emf.Write(line)
		}
	}
}

// emfLine is one EMF record: the given dimensions and values, every value
// that is not a dimension a metric of unit.
func emfLine(namespace string, rec *Record, dims []string, values map[string]any, unit string) []byte {
	isDim := map[string]bool{}
	for _, d := range dims {
		isDim[d] = true
	}
	var metrics []map[string]string
	for k := range values {
		if !isDim[k] {
			metrics = append(metrics, map[string]string{"Name": k, "Unit": unit})
		}
	}
	values["_aws"] = map[string]any{
		"Timestamp": rec.Time.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": namespace, "Dimensions": [][]string{dims}, "Metrics": metrics,
		}},
	}
	if rec.RequestID != "" {
		values["RequestId"] = rec.RequestID
	}
	line, err := json.Marshal(values)
	if err != nil {
		return nil
	}
	return append(line, '\n')
}
