package edge

import (
	"context"
	"encoding/json"
	"testing"
)

// A buffered REST API cannot return a gzip answer unless it lists binary
// media types, so the client's Accept-Encoding does not reach the proxy
// there; a REST stream keeps it.
func TestBufferedRESTDropsAcceptEncoding(t *testing.T) {
	var ev map[string]any
	if err := json.Unmarshal(restEvent(t), &ev); err != nil {
		t.Fatal(err)
	}
	ev["headers"].(map[string]any)["accept-encoding"] = "gzip, deflate"
	ev["multiValueHeaders"].(map[string]any)["accept-encoding"] = []string{"gzip, deflate"}
	event := mustJSON(t, ev)
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"rest buffered", Options{}, ""},
		{"rest stream", Options{RESTStreaming: true}, "gzip, deflate"},
	} {
		var got seen
		res, err := New(recordingHandler(&got), tc.opts).Invoke(context.Background(), event)
		if err != nil {
			t.Fatal(err)
		}
		decode(t, res)
		if ae := got.header.Get("Accept-Encoding"); ae != tc.want {
			t.Errorf("%s: the proxy sees Accept-Encoding %q, want %q", tc.name, ae, tc.want)
		}
	}
}
