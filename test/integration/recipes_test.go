package integration

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
)

// recipeEnv runs the operator recipes of docs/operations.md against moto:
// the same make targets, the same parameter names, and the function's own
// SSM config source (short TTL) to see their effect.
type recipeEnv struct {
	t    *testing.T
	moto *motoserver.Server
	src  *configsource.SSMSource
}

// make runs a make target in the repository with SSM pointed at moto,
// feeding stdin (a key) the way `make put-key < key.txt` does.
func (e *recipeEnv) make(stdin string, args ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", append([]string{"-s", "--no-print-directory"}, args...)...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), e.moto.Environ()...)
	cmd.Env = append(cmd.Env, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PROFILE=")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if stdin != "" && strings.Contains(string(out), strings.TrimSpace(stdin)) {
		e.t.Fatalf("make %s printed the key", args[0])
	}
}

// putConfig stores doc as the operator would: a file, then make put-config.
func (e *recipeEnv) putConfig(doc string) {
	e.t.Helper()
	f := filepath.Join(e.t.TempDir(), "config.yaml")
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		e.t.Fatal(err)
	}
	e.make("", "put-config", "CONFIG="+f)
}

// waitFor polls the function's config source until cond holds for the
// config it serves: what a warm function sees within one TTL.
func (e *recipeEnv) waitFor(what string, cond func(consumerOf func(key string) string, upstreamAuth string) bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		cfg, err := e.src.Current(context.Background())
		if err == nil {
			rt, _, ok := cfg.Match("POST", "", "/gpt-4o-mini/chat/completions", nil)
			if rt == nil || !ok || rt.KeyAuth == nil {
				e.t.Fatalf("%s: the config does not route gpt-4o-mini behind key-auth", what)
			}
			consumerOf := func(key string) string {
				c, _ := rt.KeyAuth.Identify(key)
				return c
			}
			if cond(consumerOf, rt.Plugin.Auth.HeaderValue) {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not in effect after 15 s (last error %v)", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newKey() string { return "key-" + rand.Text() }

// The recipes: add a team, rotate its key with two live keys, retire the
// old one, remove a team, rotate the upstream key. Every parameter lives
// where the deployed role may read it.
func TestOperatorRecipesAgainstMoto(t *testing.T) {
	moto := motoserver.Start(t)
	e := &recipeEnv{t: t, moto: moto}
	tpl := deployed(t)
	prefix, _ := tpl.Parameters["ClientKeyPathPrefix"]["Default"].(string)
	teams, err := os.ReadFile("../../infra/examples/teams.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(teams)
	for _, name := range []string{"/aiproxy/clients/team-a/1", "/aiproxy/clients/team-b/1", "/aiproxy/clients/team-a/2"} {
		if !strings.HasPrefix(name, prefix) {
			t.Fatalf("recipe parameter %s is outside ClientKeyPathPrefix %s: the deployed function could not read it", name, prefix)
		}
	}

	// Setup: the upstream key, then each team's first key, then the config.
	upstream1, keyA1, keyB1 := newKey(), newKey(), newKey()
	e.make(upstream1+"\n", "put-key")
	e.make(keyA1+"\n", "put-client-key", "CLIENT_KEY_PARAMETER=/aiproxy/clients/team-a/1")
	e.make(keyB1+"\n", "put-client-key", "CLIENT_KEY_PARAMETER=/aiproxy/clients/team-b/1")
	e.putConfig(doc)

	src, err := configsource.NewSSM(context.Background(), configsource.SSMOptions{
		Client: moto.Client(), Parameter: "/aiproxy/config", TTL: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.src = src
	e.waitFor("add teams", func(c func(string) string, auth string) bool {
		return c(keyA1) == "team-a" && c(keyB1) == "team-b" && c(newKey()) == "" && auth == "Bearer "+upstream1
	})

	// Rotate team-a, step 1: a second key next to the first; both work.
	keyA2 := newKey()
	e.make(keyA2+"\n", "put-client-key", "CLIENT_KEY_PARAMETER=/aiproxy/clients/team-a/2")
	both := strings.Replace(doc, `      - key: "{vault://ssm/aiproxy/clients/team-a/1}"`,
		`      - key: "{vault://ssm/aiproxy/clients/team-a/1}"`+"\n"+`      - key: "{vault://ssm/aiproxy/clients/team-a/2}"`, 1)
	if both == doc {
		t.Fatal("teams.yaml no longer has team-a's credential line")
	}
	e.putConfig(both)
	e.waitFor("two live keys", func(c func(string) string, _ string) bool {
		return c(keyA1) == "team-a" && c(keyA2) == "team-a"
	})

	// Step 2 (once the team has switched): retire the old key from the
	// config first, then delete its parameter.
	retired := strings.Replace(both, `      - key: "{vault://ssm/aiproxy/clients/team-a/1}"`+"\n", "", 1)
	e.putConfig(retired)
	e.waitFor("old key retired", func(c func(string) string, _ string) bool {
		return c(keyA1) == "" && c(keyA2) == "team-a" && c(keyB1) == "team-b"
	})
	deleteParam(t, moto, "/aiproxy/clients/team-a/1")
	e.putConfig(retired) // the reference check passes: nothing points at the deleted key

	// Remove team-b: config first, then its key.
	i := strings.Index(retired, "  - username: team-b")
	if i < 0 {
		t.Fatal("teams.yaml no longer has team-b")
	}
	withoutB := retired[:i]
	e.putConfig(withoutB)
	e.waitFor("team removed", func(c func(string) string, _ string) bool {
		return c(keyB1) == "" && c(keyA2) == "team-a"
	})
	deleteParam(t, moto, "/aiproxy/clients/team-b/1")

	// Rotate the upstream key: overwrite the SecureString; the function
	// re-resolves it at its next load, no redeploy, no config change.
	upstream2 := newKey()
	e.make(upstream2+"\n", "put-key")
	e.waitFor("upstream key rotated", func(c func(string) string, auth string) bool {
		return auth == "Bearer "+upstream2 && c(keyA2) == "team-a"
	})
}

func deleteParam(t *testing.T, moto *motoserver.Server, name string) {
	t.Helper()
	if _, err := moto.Client().DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: aws.String(name)}); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
}
