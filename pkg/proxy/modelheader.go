package proxy

import "net/http"

// setModelHeader sets Kong's X-Kong-LLM-Model on a 200 answer when the
// route asks for it (model_name_header) or the client sent Kong-Debug, in
// every route type: Kong sets it before it tells preserve apart
// (normalize-json-response.lua). In preserve mode the model is the body's
// own (the rewrite keeps it only when it is a usable name).
func setModelHeader(res *http.Response, pl *plan) {
	if res.StatusCode != http.StatusOK || pl.model == "" {
		return
	}
	if _, debug := res.Request.Header["Kong-Debug"]; debug || pl.plugin.ModelNameHeader {
		res.Header.Set("X-Kong-LLM-Model", pl.plugin.Model.Provider+"/"+pl.model)
	}
}
