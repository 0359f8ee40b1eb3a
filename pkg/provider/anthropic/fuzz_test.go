package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/anthropicstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// fuzzKey is a configured secret: it must never appear in any output.
const fuzzKey = "sk-ant-fuzz-secret-0123456789"

const maxFuzzOut = 64 << 20

func FuzzRequest(f *testing.F) {
	for _, b := range []string{user("c"), streamBody("stub-tools"),
		`{"model":"c","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"a","content":"r"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","reasoning_effort":"low"}`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p := plugin()
		up, err := (&Driver{}).Prepare(&provider.Call{Plugin: p, Model: "m", Body: body})
		if err != nil {
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Status != 400 || strings.Contains(pe.Message, fuzzKey) {
				t.Fatalf("refusal %v", err)
			}
			return
		}
		out := up.Transport.(*call).body
		if !json.Valid(out) || len(out) > 4*len(body)+4096 {
			t.Fatalf("output %q", out)
		}
	})
}

func FuzzAnswer(f *testing.F) {
	sc := anthropicstub.ScenarioFor("stub-tools")
	f.Add(answerBytes(sc))
	f.Add(answerBytes(anthropicstub.ScenarioFor("stub-thinking")))
	f.Add([]byte(`{"content":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, perr := completion(body)
		if perr != nil {
			out = provider.ErrorJSON(perr.Message, perr.Type, perr.Param, perr.Code)
		}
		if !json.Valid(out) || len(out) > 8*len(body)+4096 || bytes.Contains(out, []byte(fuzzKey)) && !bytes.Contains(body, []byte(fuzzKey)) {
			t.Fatalf("output %q", out)
		}
		e := upstreamError(529, nil, body)
		if e.Status != 503 || strings.Contains(e.Message, fuzzKey) && !bytes.Contains(body, []byte(fuzzKey)) {
			t.Fatalf("error %+v", e)
		}
	})
}

// answerBytes is the stub's non-streamed answer for sc.
func answerBytes(sc anthropicstub.Scenario) []byte {
	s := anthropicstub.New("")
	s.Next(sc)
	res := roundTripRaw(s, `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}]}`)
	return res
}

func FuzzStream(f *testing.F) {
	for _, m := range []string{"stub-tools", "stub-thinking", "stub-error-midstream", "hello"} {
		s := anthropicstub.New("")
		f.Add(roundTripRaw(s, `{"model":"`+m+`","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"x"}]}`))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := newEvents(io.NopCloser(bytes.NewReader(raw)), "m", true)
		total := 0
		for {
			out, err := e.Next()
			total += len(out)
			if total > maxFuzzOut {
				t.Fatal("unbounded output")
			}
			checkSSE(t, out)
			if bytes.Contains(out, []byte(fuzzKey)) && !bytes.Contains(raw, []byte(fuzzKey)) {
				t.Fatal("key in output")
			}
			if err != nil {
				var se *provider.StreamError
				if !errors.Is(err, io.EOF) && !errors.As(err, &se) {
					t.Fatalf("error %T %v", err, err)
				}
				return
			}
		}
	})
}

// checkSSE: every event is "data: <JSON>" or "data: [DONE]".
func checkSSE(t *testing.T, out []byte) {
	for _, ev := range strings.Split(string(out), "\n\n") {
		if ev == "" {
			continue
		}
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok || (data != "[DONE]" && !json.Valid([]byte(data))) {
			t.Fatalf("bad event %q", ev)
		}
	}
}

// roundTripRaw is the stub's raw answer body for a Messages request.
func roundTripRaw(s *anthropicstub.Server, body string) []byte {
	ts := httptest.NewServer(s)
	defer ts.Close()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/messages", strings.NewReader(body))
	req.Header.Set("x-api-key", s.Key)
	req.Header.Set("anthropic-version", "2023-06-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return b
}
