// Command ssmput stores the proxy's configuration document and its OpenAI
// API key in SSM Parameter Store, where the function reads them. It is what
// `make put-config` and `make put-key` run.
//
//	ssmput config -name /aiproxy/config -file infra/examples/dynamic-model.yaml
//	ssmput config -file open.yaml -allow-open  (routes without key-auth, on purpose)
//	ssmput key -name /aiproxy/openai-api-key < key.txt
//
// config validates the document before writing it: the schema (with
// placeholders for references) and, unless -skip-ref-check, that every
// {vault://ssm/...} parameter it references exists, so that the function
// never loads a document that cannot work. It also refuses a document
// that leaves any route without key-auth (a Function URL is public: such a
// route spends the upstream key for anyone on the internet) unless
// -allow-open says something else authenticates callers. key reads the secret from
// standard input, never from the command line (which lands in shell
// history and the process list), and prints only the new version.
//
// Both use the AWS SDK's default configuration chain: AWS_PROFILE,
// AWS_REGION, credentials, and AWS_ENDPOINT_URL_SSM for a local SSM.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
)

// Default parameter names, matching the examples and template.yaml.
const (
	DefaultConfigParameter = "/aiproxy/config"
	DefaultKeyParameter    = "/aiproxy/openai-api-key"
)

// maxValue is SSM's limit for an advanced parameter (standard: 4 KB).
const maxValue = 8192

// ssmClient is the part of *ssm.Client that ssmput uses.
type ssmClient interface {
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
	configsource.SSMAPI
}

// newClient builds the SSM client from the default configuration chain.
func newClient(ctx context.Context) (ssmClient, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return ssm.NewFromConfig(cfg), nil
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage:
  ssmput config [-name /aiproxy/config] -file PATH [-secure] [-dry-run] [-skip-ref-check] [-allow-open]
  ssmput key    [-name /aiproxy/openai-api-key] [-kms-key-id KEY]   (the key is read from standard input)
`

// run is the whole command; it returns the exit status (0 ok, 1 failure,
// 2 usage).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "config":
		err = runConfig(ctx, args[1:], stdout, stderr)
	case "key":
		err = runKey(ctx, args[1:], stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ssmput: unknown command %q\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ssmput: %v\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "ssmput: %v\n", err)
		return 1
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ssmput "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	return nil
}

func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config", stderr)
	name := fs.String("name", DefaultConfigParameter, "SSM parameter to write")
	file := fs.String("file", "", "configuration document (decK file, Admin-API plugin object or plugin config; YAML or JSON)")
	secure := fs.Bool("secure", false, "store as a SecureString (only needed if the document holds secrets inline rather than as references)")
	dryRun := fs.Bool("dry-run", false, "validate only; write nothing")
	skipRefs := fs.Bool("skip-ref-check", false, "do not check that referenced SSM parameters exist")
	allowOpen := fs.Bool("allow-open", false, "store a document with routes that need no client key (only if IAM auth or an authorizer in front of the function checks callers)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usageError{"-file is required"}
	}
	if *name == "" {
		return usageError{"-name is required"}
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	if len(data) > maxValue {
		return fmt.Errorf("%s is %d bytes; an SSM parameter holds at most %d", *file, len(data), maxValue)
	}

	var client ssmClient
	if !*skipRefs || !*dryRun {
		if client, err = newClient(ctx); err != nil {
			return err
		}
	}
	checker := &refChecker{stderr: stderr}
	if !*skipRefs {
		checker.client = client
	}
	cfg, err := config.Parse(ctx, data, config.Options{LookupEnv: checker.lookupEnv, Secrets: checker})
	if err != nil {
		return fmt.Errorf("%s is not a valid configuration, nothing written:\n%w", *file, err)
	}
	if err := checkKeyAuth(cfg, *allowOpen, stderr); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	fmt.Fprintf(stderr, "%s: valid", *file)
	if len(checker.names) > 0 {
		if *skipRefs {
			fmt.Fprintf(stderr, "; references not checked: %s", strings.Join(checker.names, ", "))
		} else {
			fmt.Fprintf(stderr, "; referenced parameters exist: %s", strings.Join(checker.names, ", "))
		}
	}
	fmt.Fprintln(stderr)
	if *dryRun {
		fmt.Fprintf(stdout, "dry run: %s not written\n", *name)
		return nil
	}

	typ := ssmtypes.ParameterTypeString
	if *secure {
		typ = ssmtypes.ParameterTypeSecureString
	}
	out, err := client.PutParameter(ctx, &ssm.PutParameterInput{
		Name:      aws.String(*name),
		Value:     aws.String(string(data)),
		Type:      typ,
		Overwrite: aws.Bool(true),
		// Standard (free) up to 4 KB, advanced only for a larger document.
		Tier:        ssmtypes.ParameterTierIntelligentTiering,
		Description: aws.String("lambda-ai-proxy configuration document (ssmput config)"),
	})
	if err != nil {
		return fmt.Errorf("put parameter %s: %w", *name, configsource.SafeError(err))
	}
	fmt.Fprintf(stdout, "stored %s version %d (%s)\n", *name, out.Version, typ)
	return nil
}

// checkKeyAuth refuses a configuration with a route that any caller may
// use: behind a public Function URL that route spends the upstream key for
// anyone who finds it. allowOpen turns the refusal into a warning, for
// deployments where IAM auth or an API Gateway authorizer checks callers.
func checkKeyAuth(cfg *config.Config, allowOpen bool, stderr io.Writer) error {
	var open []string
	for _, r := range cfg.Routes {
		if r.KeyAuth == nil {
			open = append(open, r.Name)
		}
	}
	if len(open) == 0 {
		return nil
	}
	list := strings.Join(open, ", ")
	if allowOpen {
		fmt.Fprintf(stderr, "warning: routes without key-auth (allowed by -allow-open): %s\n", list)
		return nil
	}
	return fmt.Errorf("routes without key-auth: %s; nothing written.\n"+
		"Anyone who can reach the function would spend the upstream key through them. Add a key-auth plugin\n"+
		"and consumers (see infra/examples/), or pass -allow-open if IAM auth or an authorizer in front of\n"+
		"the function already checks every caller", list)
}

// refChecker validates references without reading secret values: SSM
// parameters are looked up without decryption and their (encrypted)
// values dropped; every reference resolves to a placeholder.
type refChecker struct {
	client configsource.SSMAPI // nil: do not check SSM
	stderr io.Writer
	names  []string
}

const (
	secretPlaceholder = "placeholder-secret"
	// envPlaceholder stands for an unset ${{ env }} variable. It is a URL
	// so that fields which must be URLs still validate.
	envPlaceholder = "https://env-placeholder.invalid/"
)

func (c *refChecker) ResolveSecrets(ctx context.Context, refs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, ref := range refs {
		name, isSSM, err := configsource.ParameterName(ref)
		if err != nil {
			return nil, err
		}
		if isSSM {
			c.names = append(c.names, name)
		} else if !strings.HasPrefix(ref, "{vault://"+configsource.VaultEnv+"/") {
			return nil, fmt.Errorf("vault reference %s: only ssm and env vaults are supported", ref)
		}
		// One placeholder per parameter: two consumers' keys held in two
		// parameters must not look like one key used twice (a config
		// error), while one parameter referenced twice still does.
		id := ref
		if isSSM {
			id = name
		}
		sum := sha256.Sum256([]byte(id))
		out[ref] = secretPlaceholder + "-" + hex.EncodeToString(sum[:6])
	}
	sort.Strings(c.names)
	if c.client != nil && len(c.names) > 0 {
		if _, err := configsource.GetParameterValues(ctx, c.client, c.names, false); err != nil {
			var me *configsource.MissingParametersError
			if errors.As(err, &me) {
				return nil, fmt.Errorf("%w (create them first, e.g. make put-key, or pass -skip-ref-check)", err)
			}
			return nil, err
		}
	}
	return out, nil
}

// lookupEnv answers ${{ env "NAME" }} from this shell when set; the
// function will read its own environment, so an unset variable is only
// noted.
func (c *refChecker) lookupEnv(name string) (string, bool) {
	if v, ok := os.LookupEnv(name); ok {
		return v, true
	}
	fmt.Fprintf(c.stderr, "note: %s is not set here; validating with a placeholder (the function must have it set)\n", name)
	return envPlaceholder, true
}

func runKey(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("key", stderr)
	name := fs.String("name", DefaultKeyParameter, "SSM parameter to write (SecureString)")
	kmsKey := fs.String("kms-key-id", "", "KMS key for the SecureString (default: the account's aws/ssm key)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageError{"-name is required"}
	}
	key, err := readKey(stdin, stderr)
	if err != nil {
		return err
	}
	client, err := newClient(ctx)
	if err != nil {
		return err
	}
	in := &ssm.PutParameterInput{
		Name:        aws.String(*name),
		Value:       aws.String(key),
		Type:        ssmtypes.ParameterTypeSecureString,
		Overwrite:   aws.Bool(true),
		Description: aws.String("lambda-ai-proxy upstream API key (ssmput key)"),
	}
	if *kmsKey != "" {
		in.KeyId = aws.String(*kmsKey)
	}
	out, err := client.PutParameter(ctx, in)
	if err != nil {
		// Belt and braces: SSM marks Value sensitive, but never let an
		// error message carry the key.
		msg := strings.ReplaceAll(configsource.SafeError(err).Error(), key, "[redacted]")
		return fmt.Errorf("put parameter %s: %s", *name, msg)
	}
	fmt.Fprintf(stdout, "stored %s version %d (SecureString)\n", *name, out.Version)
	return nil
}

// readKey reads the key from stdin: one line from a terminal (with echo
// off, best effort), or the whole input from a pipe or file. The trailing
// newline is removed; anything else unusual is refused rather than stored.
func readKey(stdin io.Reader, stderr io.Writer) (string, error) {
	var raw string
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(stderr, "API key (input hidden), then Enter: ")
		restore := echoOff(f)
		// Ctrl-C at the prompt must not leave the terminal without echo.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		go func() {
			if _, ok := <-sig; ok {
				restore()
				fmt.Fprintln(stderr)
				os.Exit(130)
			}
		}()
		line, err := bufio.NewReader(f).ReadString('\n')
		signal.Stop(sig)
		close(sig)
		restore()
		fmt.Fprintln(stderr)
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read key: %w", err)
		}
		raw = line
	} else {
		b, err := io.ReadAll(io.LimitReader(stdin, maxValue+1))
		if err != nil {
			return "", fmt.Errorf("read key from standard input: %w", err)
		}
		if len(b) > maxValue {
			return "", fmt.Errorf("standard input is longer than %d bytes: not an API key", maxValue)
		}
		raw = string(b)
	}
	key := strings.TrimSuffix(raw, "\n")
	key = strings.TrimSuffix(key, "\r")
	switch {
	case key == "":
		return "", errors.New("no key on standard input (pipe it in: make put-key < key.txt)")
	case strings.ContainsAny(key, "\r\n"):
		return "", errors.New("standard input holds more than one line; give the key alone")
	case strings.TrimSpace(key) != key:
		return "", errors.New("the key has leading or trailing spaces; check what was pasted")
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return "", errors.New("the key contains control characters")
		}
	}
	return key, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// echoOff turns terminal echo off with stty (no extra dependency) and
// returns a function that turns it back on. Failure leaves echo on.
func echoOff(f *os.File) func() {
	off := exec.Command("stty", "-echo")
	off.Stdin = f
	if off.Run() != nil {
		return func() {}
	}
	return func() {
		on := exec.Command("stty", "echo")
		on.Stdin = f
		_ = on.Run()
	}
}
