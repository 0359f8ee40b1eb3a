package stub

import (
	"encoding/json"
	"net/http"
)

// Answers of the shapes Kong's ai-proxy spec fixtures use: an HTML error
// page, and a JSON object that is not a completion.
const (
	htmlAnswer = `<!doctype html>
<html lang="en">
<head><title>502 Bad Gateway</title></head>
<body>
<h1>Bad Gateway</h1>
<p>The model server behind this host did not answer.</p>
</body>
</html>
`
	noChoicesAnswer = `{
  "status": {
    "detail": "this upstream answered something that is not a completion",
    "items": ["one", "two", "three"]
  }
}
`
)

// canned writes the answer X-Stub-Answer names, if it names one the stub
// answers without reading the request.
func (s *Server) canned(w http.ResponseWriter, r *http.Request) bool {
	switch r.Header.Get("X-Stub-Answer") {
	case "html":
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(htmlAnswer))
	case "no-choices":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(noChoicesAnswer))
	case "echo-auth":
		msg, _ := json.Marshal("invalid key " + r.Header.Get("Authorization") + " from query " + r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"message":` + string(msg) + `,"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`))
	case "echo-auth-sse":
		msg, _ := json.Marshal("invalid key " + r.Header.Get("Authorization") + " from query " + r.URL.RawQuery)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`data: {"error":{"message":` + string(msg) + `,"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}` + "\n\n"))
	default:
		return false
	}
	return true
}
