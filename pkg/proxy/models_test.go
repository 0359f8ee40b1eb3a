package proxy

import (
	"encoding/json"
	"regexp/syntax"
	"strings"
	"testing"
)

func TestModelsList(t *testing.T) {
	p := newAPIsProxy(t)
	ids := func(body []byte) []string {
		var l struct {
			Object string
			Data   []struct{ ID, Object, OwnedBy string }
		}
		if err := json.Unmarshal(body, &l); err != nil || l.Object != "list" {
			t.Fatalf("not a list: %s", body)
		}
		var out []string
		for _, d := range l.Data {
			out = append(out, d.ID)
		}
		return out
	}
	tests := []struct {
		name, path string
		hdr        []string
		status     int
		want       string
	}{
		{"all, no key", "/v1/models", nil, 200, "gpt-4o,text-embedding-3-small,gpt-4o-mini,o3-mini,o4-mini,fast"},
		{"all, with key", "/v1/models", []string{"Authorization", "Bearer alice-key"}, 200, "gpt-4o,text-embedding-3-small,gpt-4o-mini,o3-mini,o4-mini,fast,claude-keyed"},
		{"bad key", "/v1/models", []string{"Authorization", "Bearer nope"}, 401, ""},
		{"route prefix", "/gpt-4o-mini/models", nil, 200, "gpt-4o,gpt-4o-mini,o3-mini,o4-mini,fast"},
		{"templated route without allow-list lists nothing", "/fake/v1/models", nil, 200, ""},
		{"keyed prefix without key", "/keyed/models", nil, 401, ""},
		{"keyed prefix with key", "/keyed/models", []string{"Authorization", "Bearer alice-key"}, 200, "claude-keyed"},
		{"one model", "/v1/models/o3-mini", nil, 200, ""},
		{"unknown model", "/v1/models/gpt-5", nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := p.do("GET", tt.path, "", tt.hdr...)
			if w.Code != tt.status {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			switch {
			case tt.status != 200:
				if !strings.Contains(w.Body.String(), `"error":{`) {
					t.Errorf("error %s", w.Body)
				}
			case strings.HasPrefix(tt.path, "/v1/models/"):
				var m struct{ ID, Object string }
				if json.Unmarshal(w.Body.Bytes(), &m); m.ID != "o3-mini" || m.Object != "model" {
					t.Errorf("model %s", w.Body)
				}
			default:
				if got := strings.Join(ids(w.Body.Bytes()), ","); got != tt.want {
					t.Errorf("ids %q, want %q", got, tt.want)
				}
			}
		})
	}
	if len(p.up.Requests()) != 0 {
		t.Error("the model list called the upstream")
	}
}

func TestModelsAnthropicShape(t *testing.T) {
	p := newAPIsProxy(t)
	w := p.do("GET", "/v1/models", "", "Anthropic-Version", "2023-06-01", "X-Api-Key", "alice-key")
	var l struct {
		Data    []struct{ Type, ID, DisplayName, CreatedAt string }
		HasMore *bool  `json:"has_more"`
		FirstID string `json:"first_id"`
		LastID  string `json:"last_id"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil || l.HasMore == nil || *l.HasMore || l.FirstID != "gpt-4o" || l.LastID != "fast" || l.Data[0].Type != "model" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = p.do("GET", "/v1/models/nope", "", "Anthropic-Version", "2023-06-01")
	if w.Code != 404 || !strings.Contains(w.Body.String(), `"type":"error","error":{"type":"not_found_error"`) {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestLiterals(t *testing.T) {
	for _, tt := range []struct {
		re   string
		want string
		ok   bool
	}{
		{`gpt-4o|gpt-4o-mini`, "gpt-4o,gpt-4o-mini", true},
		{`o[13]-mini`, "o1-mini,o3-mini", true},
		{`claude-(?:haiku|sonnet)-4`, "claude-haiku-4,claude-sonnet-4", true},
		{`[^/]+`, "", false},
		{`(?i)gpt`, "", false},
		{`a*`, "", false},
	} {
		re, err := syntax.Parse(tt.re, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := literals(re, 256)
		if ok != tt.ok || (ok && strings.Join(got, ",") != tt.want) {
			t.Errorf("%s: %v %v", tt.re, got, ok)
		}
	}
}
