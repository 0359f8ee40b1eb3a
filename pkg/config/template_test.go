package config

import (
	"errors"
	"testing"
)

func TestTemplateResolve(t *testing.T) {
	values := map[string]string{"uri_captures.model": "gpt-4o", "headers.x-model": "mini", "query_params.v": "2"}
	lookup := func(source, key string) (string, bool) { v, ok := values[source+"."+key]; return v, ok }
	tests := []struct {
		tmpl, want, missing string
	}{
		{"gpt-4o", "gpt-4o", ""},
		{"$(uri_captures.model)", "gpt-4o", ""},
		{"prefix-$(headers.x-model)-v$(query_params.v)", "prefix-mini-v2", ""},
		{"$(uri_captures.deployment)", "", "uri_captures key deployment was not provided"},
		{"$(headers.absent)", "", "headers key absent was not provided"},
		{"$(query_params.q)", "", "query_params key q was not provided"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tp, err := ParseTemplate(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tp.Resolve(lookup)
			var miss *MissingError
			if tt.missing != "" {
				if !errors.As(err, &miss) || err.Error() != tt.missing {
					t.Fatalf("err = %v, want %q", err, tt.missing)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"$(uri_captures)", "$(cookies.x)", "$(headers.x"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) accepted", bad)
		}
	}
}
