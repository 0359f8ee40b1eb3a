package cohere

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/coherestub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// stubStream is the Cohere stub's stream for model, read by Events.
func stubStream(t testing.TB, model string) *Events {
	t.Helper()
	srv := httptest.NewServer(coherestub.New("k"))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("POST", srv.URL+"/v2/chat", strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}],"stream":true}`))
	req.Header.Set("Authorization", "Bearer k")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("stub: %v %v", err, res)
	}
	return NewEvents(res.Body, "command-a", true)
}

// drain reads every event, checking that each is "data: <JSON>" or
// [DONE], and returns the chunks' JSON and the error that ended it.
func drain(t testing.TB, ev provider.Events) ([]map[string]any, error) {
	var out []map[string]any
	for {
		b, err := ev.Next()
		for _, e := range strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n") {
			if e == "" || e == "data: [DONE]" {
				continue
			}
			data, ok := strings.CutPrefix(e, "data: ")
			var m map[string]any
			if !ok || json.Unmarshal([]byte(data), &m) != nil {
				t.Fatalf("not an SSE data event: %q", e)
			}
			out = append(out, m)
		}
		if err != nil {
			return out, err
		}
	}
}

func TestStreamText(t *testing.T) {
	chunks, err := drain(t, stubStream(t, "m"))
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, c := range chunks {
		if ch, _ := c["choices"].([]any); len(ch) > 0 {
			d := ch[0].(map[string]any)["delta"].(map[string]any)
			if s, ok := d["content"].(string); ok {
				text.WriteString(s)
			}
		}
	}
	if text.String() != strings.Join(coherestub.Pieces, "") {
		t.Errorf("text %q", text.String())
	}
	last := chunks[len(chunks)-1]
	if u := last["usage"].(map[string]any); u["prompt_tokens"] != float64(coherestub.BilledInput) {
		t.Errorf("usage %v", u)
	}
}
