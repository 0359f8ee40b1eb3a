package proxy

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTopLevel(t *testing.T) {
	tests := []struct {
		name, body string
		keys       []string
		err        error
	}{
		{"members", `{"a":1,"b":[1,{"c":"}"}],"d":null}`, []string{"a", "b", "d"}, nil},
		{"empty object", ` { } `, nil, nil},
		{"escaped key", `{"\u006dodel":"x"}`, []string{"model"}, nil},
		{"white space everywhere", "{ \"a\" :\t[ 1 , 2 ] ,\n\"s\" : \"x\\\\\" }\r\n", []string{"a", "s"}, nil},
		{"numbers", `{"a":-0.5e+10,"b":0,"c":1E3}`, []string{"a", "b", "c"}, nil},
		{"invalid UTF-8 in a string, as json.Valid", "{\"a\":\"\xff\"}", []string{"a"}, nil},
		{"not an object", `[1,2]`, nil, errNotObject},
		{"a string", `"s"`, nil, errNotObject},
		{"truncated", `{"messages":`, nil, errInvalid},
		{"empty", ``, nil, errInvalid},
		{"trailing garbage", `{"a":1} x`, nil, errInvalid},
		{"two objects", `{}{}`, nil, errInvalid},
		{"invalid nested deep", `{"messages":[{"role":"user","content":"hi"}],"x":{"y":[1,2,{"z":tru}]}}`, nil, errInvalid},
		{"invalid nested number", `{"a":[01]}`, nil, errInvalid},
		{"invalid escape in nested string", `{"a":{"b":"\x"}}`, nil, errInvalid},
		{"control character in a string", "{\"a\":\"\x01\"}", nil, errInvalid},
		{"missing colon", `{"a" 1}`, nil, errInvalid},
		{"trailing comma", `{"a":1,}`, nil, errInvalid},
		{"trailing comma nested", `{"a":[1,]}`, nil, errInvalid},
		{"unquoted key", `{a:1}`, nil, errInvalid},
		{"invalid array not object", `[1,`, nil, errInvalid},
		{"too deep", `{"a":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`, nil, errInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields, err := topLevel([]byte(tt.body), nil)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			var keys []string
			for _, f := range fields {
				keys = append(keys, f.key)
				if v := tt.body[f.start:f.end]; !json.Valid([]byte(v)) && tt.name != "invalid UTF-8 in a string, as json.Valid" {
					t.Errorf("member %s value %q is not a JSON value", f.key, v)
				}
			}
			if !reflect.DeepEqual(keys, tt.keys) {
				t.Errorf("keys %q, want %q", keys, tt.keys)
			}
		})
	}
}

// The one-pass scan must accept exactly the bodies json.Valid accepts.
func FuzzTopLevel(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":[1,{"b":"\u00e9"}]}`, `{"a":tru}`, `[1]`, `{"a":1e}`, `{"a":"\ud800"}`, " {\"a\" : -0.0E-0 } "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := topLevel(body, nil)
		if valid := json.Valid(body); valid != (err != errInvalid) {
			t.Fatalf("json.Valid = %v but topLevel err = %v for %q", valid, err, body)
		}
	})
}

// scanString skips plain bytes eight at a time: a quote, an escape, a
// control character or invalid UTF-8 at every offset of a block, and a
// string that ends inside one, are decided as json.Valid decides them.
func TestScanStringEveryOffset(t *testing.T) {
	for _, special := range []string{`"`, `\"`, `\\`, `\u00e9`, `\x`, "\x01", "\x1f", "\x7f", "\xff", `\u12`} {
		for n := 0; n < 20; n++ {
			for _, tail := range []string{`"}`, ``, `"`} {
				body := `{"k":"` + strings.Repeat("a", n) + special + strings.Repeat("b", 19-n) + tail
				_, err := topLevel([]byte(body), nil)
				if valid := json.Valid([]byte(body)); valid != (err == nil) {
					t.Errorf("json.Valid = %v but topLevel err = %v for %q", valid, err, body)
				}
			}
		}
	}
}
