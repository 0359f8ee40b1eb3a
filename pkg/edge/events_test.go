package edge

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestSampleEvents runs the repository's sample events (events/*.json, used
// by `make invoke` and the emulator tests) through the edge, so a sample
// that stops looking like its event source fails here first.
func TestSampleEvents(t *testing.T) {
	want := map[string]struct {
		kind         kind
		method, path string
	}{
		"function-url-stream.json": {kindFunctionURL, "POST", "/gpt-4o-mini/chat/completions"},
		"function-url.json":        {kindFunctionURL, "POST", "/gpt-4o-mini/chat/completions"},
		"rest-api.json":            {kindREST, "POST", "/gpt-4o-mini/chat/completions"},
		"http-api-stage.json":      {kindHTTPAPI, "POST", "/gpt-4o-mini/chat/completions"},
		"bad-no-model.json":        {kindFunctionURL, "POST", "/chat/completions"},
		"bad-method.json":          {kindFunctionURL, "GET", "/gpt-4o-mini/chat/completions"},
		"bad-json.json":            {kindFunctionURL, "POST", "/gpt-4o-mini/chat/completions"},
		"base64-body.json":         {kindFunctionURL, "POST", "/gpt-4o-mini/chat/completions"},
	}
	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("new sample event %s: add it to this table", name)
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if k, _, err := decodeEvent(raw); err != nil || k != w.kind {
				t.Fatalf("detected %v, %v; want %v", k, err, w.kind)
			}
			var got seen
			res, err := New(recordingHandler(&got), Options{RESTStreaming: true}).Invoke(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			decode(t, res)
			if got.method != w.method || got.path != w.path {
				t.Errorf("handler saw %s %s, want %s %s", got.method, got.path, w.method, w.path)
			}
			if w.method == "POST" && len(got.body) == 0 {
				t.Errorf("empty body")
			}
			if w.kind != kindFunctionURL && got.params["model"] != "gpt-4o-mini" {
				t.Errorf("path params %v", got.params)
			}
		})
	}
}
