package gemini

import (
	"errors"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"io"
	"strings"
)

func ioNop(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }

type pc struct{ c provider.Call }

func providerCall(p *config.Plugin) *pc {
	return &pc{provider.Call{Plugin: p, Model: "gemini-2.5-flash", Body: []byte(`{"model":"x","messages":[{"role":"user","content":"hi"}]}`)}}
}
