package edge

import (
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// dropAcceptEncoding removes the client's Accept-Encoding from a buffered
// REST event. The proxy relays an upstream's gzip answer to a client that
// accepts gzip; aws-lambda-go-api-proxy then returns it base64-encoded,
// which a REST API decodes only when it lists binary media types, and
// otherwise hands the client as text. Without the header the answer comes
// back plain. HTTP APIs, Function URLs and REST streams carry bytes as they
// are and keep it.
func dropAcceptEncoding(ev *events.APIGatewayProxyRequest) {
	for h := range ev.Headers {
		if strings.EqualFold(h, "Accept-Encoding") {
			delete(ev.Headers, h)
		}
	}
	for h := range ev.MultiValueHeaders {
		if strings.EqualFold(h, "Accept-Encoding") {
			delete(ev.MultiValueHeaders, h)
		}
	}
}
