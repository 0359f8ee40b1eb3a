package stats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func emfRecords(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("EMF record is not JSON: %v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}

// dimensionSets lists the record's dimension sets as strings.
func dimensionSets(m map[string]any) []string {
	d := m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"].([]any)
	var out []string
	for _, set := range d {
		out = append(out, fmt.Sprint(set))
	}
	return out
}

func metricNames(m map[string]any) map[string]string {
	out := map[string]string{}
	for _, x := range m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any) {
		mm := x.(map[string]any)
		out[mm["Name"].(string)] = mm["Unit"].(string)
	}
	return out
}

func TestEMFConsumerAndCost(t *testing.T) {
	var emf bytes.Buffer
	r := New(Options{EMF: &emf, Namespace: "NS"})
	base := Record{Time: time.UnixMilli(1764590400000), Route: "chat", RequestModel: "gpt-4o", ModelFixed: true, Status: 200,
		Usage: &Usage{PromptTokens: 1000, CompletionTokens: 500}, InputCost: 2.5, OutputCost: 10}
	withConsumer := base
	withConsumer.Consumer = "team-a"
	noRoute := Record{Status: 404}
	for _, rec := range []*Record{&base, &withConsumer, &noRoute} {
		r.Observe(rec)
	}
	recs := emfRecords(t, emf.Bytes())
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	for i, m := range recs {
		if metricNames(m)["Cost"] != "None" || len(metricNames(m)) != len(emfMetrics) {
			t.Errorf("record %d: metrics %v", i, metricNames(m))
		}
		for name := range metricNames(m) {
			if _, ok := m[name].(float64); !ok {
				t.Errorf("record %d: metric %s has no value: %v", i, name, m)
			}
		}
	}
	if got := fmt.Sprint(dimensionSets(recs[0])); got != "[[Route Model] [Route]]" || recs[0]["Consumer"] != nil {
		t.Errorf("without a consumer: dimensions %s, Consumer %v", got, recs[0]["Consumer"])
	}
	if got := fmt.Sprint(dimensionSets(recs[1])); got != "[[Route Model] [Route] [Consumer]]" || recs[1]["Consumer"] != "team-a" {
		t.Errorf("with a consumer: dimensions %s, Consumer %v", got, recs[1]["Consumer"])
	}
	if want := (1000*2.5 + 500*10) / 1e6; recs[1]["Cost"] != want || recs[1]["Timestamp"] != nil {
		t.Errorf("Cost = %v, want %v", recs[1]["Cost"], want)
	}
	// CloudWatch refuses empty dimension values.
	if recs[2]["Route"] != NoValue || recs[2]["Model"] != NoValue || recs[2]["Cost"] != 0.0 || recs[2]["Errors4xx"] != 1.0 {
		t.Errorf("no route: %v", recs[2])
	}
}

// A client that invents model names (3000 of them, on a route that takes
// the model from the client, against an upstream that accepts and echoes
// anything) cannot grow the Model dimension beyond its bound; the models
// the configuration fixes keep their own values.
func TestModelDimensionBounded(t *testing.T) {
	const maxModels = 8
	var emf bytes.Buffer
	r := New(Options{EMF: &emf, MaxModels: maxModels})
	observe := func(model string, fixed bool, status int) string {
		emf.Reset()
		r.Observe(&Record{Route: "dynamic", RequestModel: model, ModelFixed: fixed, Status: status, Consumer: "team-a"})
		return emfRecords(t, emf.Bytes())[0]["Model"].(string)
	}
	// Refused names are not admitted, even while there is room.
	if got := observe("no-such-model", false, 404); got != OtherModel {
		t.Errorf("a model the upstream refused: %q, want %q", got, OtherModel)
	}
	combos := map[string]bool{}
	for i := range 3000 {
		model := observe(fmt.Sprintf("invented-%04d", i), false, 200)
		combos["Route=dynamic,Model="+model] = true
	}
	combos["Route=dynamic"], combos["Consumer=team-a"] = true, true
	models := 0
	for c := range combos {
		if len(c) > 20 && c[:20] == "Route=dynamic,Model=" {
			models++
		}
	}
	if models != maxModels+1 {
		t.Errorf("%d Model values for 3000 invented names, want %d (the first %d, then %q)", models, maxModels+1, maxModels, OtherModel)
	}
	t.Logf("3000 invented model names -> %d dimension combinations x %d metrics = %d custom metrics", len(combos), len(emfMetrics), len(combos)*len(emfMetrics))
	if got := observe("invented-0003", false, 500); got != "invented-0003" {
		t.Errorf("an admitted name failing later: %q, want its own value", got)
	}
	if got := observe("invented-2999", false, 200); got != OtherModel {
		t.Errorf("a name beyond the bound: %q", got)
	}
	if got := observe("gpt-4o", true, 200); got != "gpt-4o" {
		t.Errorf("a configured model after the bound is reached: %q", got)
	}
	long := string(bytes.Repeat([]byte("m"), maxModelLen+1))
	r2 := New(Options{EMF: &emf})
	emf.Reset()
	r2.Observe(&Record{RequestModel: long, Status: 200})
	if got := emfRecords(t, emf.Bytes())[0]["Model"]; got != OtherModel {
		t.Errorf("an overlong name: %v", got)
	}
}

// TimeToFirstToken is a metric of streams only: a zero for every
// non-streamed answer or refused request would pull the p90 the TTFT alarm
// watches towards nothing. Declared metrics must be present (EMF), so the
// records without it must not declare it either.
func TestEMFTimeToFirstTokenOnlyForStreams(t *testing.T) {
	var emf bytes.Buffer
	r := New(Options{EMF: &emf})
	r.Observe(&Record{Route: "chat", Status: 200, Stream: true, TimeToFirstToken: 1500 * time.Microsecond})
	r.Observe(&Record{Route: "chat", Status: 200, TimeToFirstToken: 80 * time.Millisecond})
	r.Observe(&Record{Route: "chat", Status: 401, Stream: true})
	recs := emfRecords(t, emf.Bytes())
	for i, want := range []bool{true, false, false} {
		_, declared := metricNames(recs[i])["TimeToFirstToken"]
		v, present := recs[i]["TimeToFirstToken"]
		if declared != want || present != want {
			t.Errorf("record %d: TimeToFirstToken declared %v, present %v (%v); want %v", i, declared, present, v, want)
		}
	}
	if recs[0]["TimeToFirstToken"] != 1.5 {
		t.Errorf("stream TTFT = %v ms, want 1.5", recs[0]["TimeToFirstToken"])
	}
}
