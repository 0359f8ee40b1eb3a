package lambdatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// preludeSeparator ends the JSON prelude of a streamed HTTP response
// (application/vnd.awslambda.http-integration-response).
var preludeSeparator = make([]byte, 8)

// Prelude is the JSON head of a streamed Function URL or API Gateway
// response: events.LambdaFunctionURLStreamingResponse and
// events.APIGatewayProxyStreamingResponse write it before their body.
type Prelude struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers,omitempty"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders,omitempty"`
	Cookies           []string            `json:"cookies,omitempty"`
}

// ErrNoPrelude says a response is not in the streaming framing.
var ErrNoPrelude = errors.New("no streaming prelude (JSON object followed by 8 NUL bytes)")

// SplitPrelude splits a streamed response into its prelude and body.
func SplitPrelude(raw []byte) (Prelude, []byte, error) {
	var p Prelude
	i := bytes.Index(raw, preludeSeparator)
	if i < 0 || !bytes.HasPrefix(bytes.TrimSpace(raw[:i]), []byte("{")) {
		return p, nil, ErrNoPrelude
	}
	if err := json.Unmarshal(raw[:i], &p); err != nil {
		return p, nil, fmt.Errorf("%w: %v", ErrNoPrelude, err)
	}
	return p, raw[i+len(preludeSeparator):], nil
}

// ArrivalGroups counts bursts: runs of chunks each less than gap after the
// previous one. A response buffered until the end arrives as one group; one
// streamed with a pause between writes arrives as one group per write.
func ArrivalGroups(chunks []Chunk, gap time.Duration) int {
	if len(chunks) == 0 {
		return 0
	}
	groups := 1
	for i := 1; i < len(chunks); i++ {
		if chunks[i].At.Sub(chunks[i-1].At) >= gap {
			groups++
		}
	}
	return groups
}
