package proxy

import (
	"encoding/json"
	"net/http"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// setModelHeader sets Kong's X-Kong-LLM-Model on a 200 answer when the
// route asks for it (model_name_header) or the client sent Kong-Debug, in
// every route type: Kong sets it before it tells preserve apart
// (normalize-json-response.lua).
func setModelHeader(res *http.Response, pl *plan) {
	if res.StatusCode != http.StatusOK {
		return
	}
	_, debug := res.Request.Header["Kong-Debug"]
	if !pl.plugin.ModelNameHeader && !debug {
		return
	}
	if m := headerModel(pl); m != "" && safeHeaderValue(m) {
		res.Header.Set("X-Kong-LLM-Model", "openai/"+m)
	}
}

// headerModel is the model Kong names: the one the upstream was asked for,
// which in preserve mode is the body's own "model" when it is a string.
func headerModel(pl *plan) string {
	if pl.model != "" || pl.plugin.RouteType != config.RoutePreserve {
		return pl.model
	}
	var arr [16]field
	fields, err := topLevel(pl.body, arr[:0])
	if err != nil {
		return ""
	}
	model := ""
	for _, f := range fields {
		if f.key == "model" {
			var m string
			if json.Unmarshal(pl.body[f.start:f.end], &m) == nil {
				model = m
			}
		}
	}
	return model
}

// safeHeaderValue refuses a client-chosen model that would make a bad
// header: too long, or with control characters.
func safeHeaderValue(v string) bool {
	if len(v) > 256 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return false
		}
	}
	return true
}
