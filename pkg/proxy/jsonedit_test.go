package proxy

import (
	"encoding/json"
	"testing"
)

func TestApplyEdits(t *testing.T) {
	tests := []struct {
		name, body string
		edits      []edit
		want       string
	}{
		{"set in place", `{"a":1,"model":"x","b":[1,{"c":"}"}]}`, []edit{{key: "model", value: []byte(`"y"`)}}, `{"a":1,"model":"y","b":[1,{"c":"}"}]}`},
		{"append missing", `{"a":1}`, []edit{{key: "model", value: []byte(`"y"`)}}, `{"a":1,"model":"y"}`},
		{"remove", `{"top_k":3,"a":"\"q\""}`, []edit{{key: "top_k"}}, `{"a":"\"q\""}`},
		{"drop duplicates", `{"model":"a","x":1,"model":"b"}`, []edit{{key: "model", value: []byte(`"m"`)}}, `{"model":"m","x":1}`},
		{"empty object", ` { } `, []edit{{key: "k", value: []byte(`true`)}}, `{"k":true}`},
		{"whitespace and escapes", "{ \"a\\u0062\" : [ 1 , 2 ] ,\n\"s\":\"x\\\\\"}", nil, `{"ab":[ 1 , 2 ],"s":"x\\"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields, err := topLevel([]byte(tt.body), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := applyEdits([]byte(tt.body), fields, tt.edits)
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("invalid JSON %s", got)
			}
		})
	}
}
