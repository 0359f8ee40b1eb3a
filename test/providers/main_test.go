// Package providers drives each provider's driver end to end: the real
// binary, a test server speaking that provider's wire format, and a real
// OpenAI client. One file per provider.
package providers

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
)

func TestMain(m *testing.M) {
	code := m.Run()
	binary.Cleanup()
	os.Exit(code)
}

// user is a conversation of one user message.
func user(text string) []openai.ChatCompletionMessageParamUnion {
	return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}
}

// checkFailures drives the failures of a stub steered by model name
// (coherestub, ollamastub: model+error-401 and so on). Errors before the
// first byte keep their status (429 its Retry-After) and name the
// provider; after the first byte the stream fails visibly, with the
// provider's failure named rather than a client-side timeout, and no
// [DONE].
func checkFailures(t *testing.T, cl openai.Client, model, provider string) {
	t.Helper()
	for word, status := range map[string]int{"error-401": 401, "error-429": 429, "error-500": 500} {
		_, err := cl.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: model + "+" + word, Messages: user("hi")})
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != status || (status == 429 && ae.Response.Header.Get("Retry-After") != "7") || !strings.HasPrefix(ae.Message, provider+" error: ") {
			t.Errorf("%s+%s: %v", model, word, err)
		}
	}
	for _, word := range []string{"fail-mid", "cut"} {
		stream := cl.Chat.Completions.NewStreaming(ctx30(t), openai.ChatCompletionNewParams{Model: model + "+" + word, Messages: user("hi")})
		n := 0
		for stream.Next() {
			n++
		}
		if stream.Err() == nil || n == 0 || !strings.Contains(stream.Err().Error(), `"code":"upstream_`) {
			t.Errorf("%s+%s: %d chunks, then err %v", model, word, n, stream.Err())
		}
	}
}

// postJSON posts body to url with the default client and returns the
// status and the answer, for the tests that read the bytes themselves
// rather than through an SDK.
func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, string(b)
}
