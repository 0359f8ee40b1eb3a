package config

import (
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/route"

	"sort"
	"strings"
	"unicode/utf8"
)

// The APIs clients may speak (Kong 3.11+'s llm_format).
const (
	// FormatOpenAI is OpenAI's chat and completions API, the default.
	FormatOpenAI = "openai"
	// FormatAnthropic is Anthropic's Messages API: POST .../v1/messages
	// and .../v1/messages/count_tokens under the route's path (Kong
	// Enterprise's name for it; what Claude Code speaks).
	FormatAnthropic = "anthropic"
)

// AliasAny is the model_aliases key that matches every name not listed.
const AliasAny = "*"

// maxAliases bounds model_aliases; a handful is the real need.
const maxAliases = 256

// readMessagesFormat reads llm_format (unless format, an
// ai-proxy-advanced plugin's, decides it) and model_aliases.
func readMessagesFormat(o *object, p *Plugin, format string) {
	w := o.w
	p.LLMFormat = FormatOpenAI
	switch f := o.str("llm_format"); {
	case format != "":
		p.LLMFormat = format
	case f == "" || f == FormatOpenAI:
	case f == FormatAnthropic:
		p.LLMFormat = f
	default:
		w.fail(join(o.path, "llm_format"), "%q is not supported: clients speak OpenAI's format (llm_format: openai) or Anthropic's Messages (llm_format: anthropic)", f)
	}
	v, ok := o.get("model_aliases")
	if !ok {
		return
	}
	m, isMap := v.(map[string]any)
	path := join(o.path, "model_aliases")
	if !isMap {
		w.fail(path, "expected a map of client model names to model ids, got %s", kind(v))
		return
	}
	if len(m) > maxAliases {
		w.fail(path, "at most %d aliases", maxAliases)
		return
	}
	p.ModelAliases = make(map[string]string, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		id, isStr := m[k].(string)
		switch {
		case !isStr:
			w.fail(join(path, k), "expected a model id (a string), got %s", kind(m[k]))
		case !plainName(k):
			w.fail(join(path, k), "an alias must be 1 to 256 printable characters without spaces")
		case !plainName(id) || strings.Contains(id, "$("):
			w.fail(join(path, k), "a model id must be 1 to 256 printable characters without spaces or templates")
		default:
			p.ModelAliases[k] = id
		}
	}
}

// checkMessagesFormat ties llm_format to the rest of the plugin.
func checkMessagesFormat(w *walker, path string, p *Plugin) {
	if p.LLMFormat != FormatAnthropic {
		if p.ModelAliases != nil {
			w.fail(join(path, "model_aliases"), "model_aliases apply to llm_format: anthropic only (the names Claude Code and other Messages clients choose)")
		}
		return
	}
	if p.RouteType != RouteChat {
		w.fail(join(path, "route_type"), "llm_format: anthropic needs route_type %s (Messages are chat)", RouteChat)
	}
}

// plainName is a model name that can go into a header and a log line.
func plainName(s string) bool {
	if s == "" || len(s) > 256 || !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 {
			return false
		}
	}
	return true
}

// DefaultMessagesRoutePath is the route a bare plugin config with
// llm_format: anthropic gets: .../v1/messages and .../count_tokens under
// any prefix, so that ANTHROPIC_BASE_URL may be the host or any path on it.
const DefaultMessagesRoutePath = "~/(?:.*/)?v1/messages(?:/count_tokens)?$"

func messagesDefaultRoute(w *walker, r *Route) {
	rp, err := route.Compile(DefaultMessagesRoutePath)
	if err != nil {
		w.fail("routes", "%v", err)
		return
	}
	r.Paths = []*route.Path{rp}
}
