package configsource

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

const examplesDir = "../../infra/examples"

// stubResolver resolves every reference to a dummy value, so that the
// examples are checked without AWS.
type stubResolver struct{ seen []string }

func (r *stubResolver) ResolveSecrets(_ context.Context, refs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, ref := range refs {
		if _, _, err := ParameterName(ref); err != nil {
			return nil, err // a reference our resolver would refuse
		}
		r.seen = append(r.seen, ref)
		// One value per parameter, as SSM would hold: two consumers' keys
		// must not collide in the duplicate-credential check.
		out[ref] = "dummy-secret-" + strconv.Itoa(len(r.seen))
	}
	return out, nil
}

// TestExamplesParse parses every file in infra/examples, so that a broken
// example fails make test.
func TestExamplesParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d examples in %s, want at least 3", len(files), examplesDir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res := &stubResolver{}
			cfg, err := config.Parse(context.Background(), data, config.Options{LookupEnv: func(string) (string, bool) { return "", false }, Secrets: res})
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Routes) == 0 || len(res.seen) == 0 {
				t.Fatalf("%d routes, %d references: an example should show both", len(cfg.Routes), len(res.seen))
			}
			// An example is what operators copy: none may leave a route
			// open to anyone who finds the URL.
			for _, r := range cfg.Routes {
				if r.KeyAuth == nil {
					t.Errorf("route %q has no key-auth", r.Name)
				}
			}
		})
	}
}

// TestExampleRouting checks that each example routes requests the way its
// comments say.
func TestExampleRouting(t *testing.T) {
	for _, tc := range []struct {
		file, path          string
		wantRoute, wantType string
		wantModel           string // the model template, or its capture when dynamic
	}{
		{"dynamic-model.yaml", "/gpt-4o/chat/completions", "openai-chat", config.RouteChat, "gpt-4o"},
		{"multi-route.yaml", "/gpt-4o/chat/completions", "openai-chat", config.RouteChat, "gpt-4o"},
		{"multi-route.yaml", "/fast/chat/completions", "fast-chat", config.RouteChat, "gpt-4o-mini"},
		{"multi-route.yaml", "/gpt-3.5-turbo-instruct/completions", "openai-completions", config.RouteCompletions, "gpt-3.5-turbo-instruct"},
		{"query-auth.yaml", "/llama-3/chat/completions", "compatible-chat", config.RouteChat, "llama-3"},
	} {
		t.Run(tc.file+tc.path, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(examplesDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(context.Background(), data, config.Options{Secrets: &stubResolver{}})
			if err != nil {
				t.Fatal(err)
			}
			r, caps, ok := cfg.Match("POST", "", tc.path, nil)
			if r == nil || !ok {
				t.Fatalf("POST %s matched no route", tc.path)
			}
			if r.Name != tc.wantRoute || r.Plugin.RouteType != tc.wantType {
				t.Fatalf("POST %s -> route %q (%s), want %q (%s)", tc.path, r.Name, r.Plugin.RouteType, tc.wantRoute, tc.wantType)
			}
			model, err := r.Plugin.Model.Name.Resolve(func(source, key string) (string, bool) {
				v, ok := caps[key]
				return v, ok && source == config.SourceURICaptures
			})
			if err != nil || model != tc.wantModel {
				t.Fatalf("model = %q, %v; want %q", model, err, tc.wantModel)
			}
			a := r.Plugin.Auth
			if !strings.Contains(a.HeaderValue+a.ParamValue, "dummy-secret") {
				t.Errorf("auth does not carry the resolved reference: %+v", a)
			}
		})
	}
}
