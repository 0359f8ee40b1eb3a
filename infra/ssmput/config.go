package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
)

// configArgs are the flags of ssmput config.
type configArgs struct {
	name, file                          string
	secure, dryRun, skipRefs, allowOpen bool
}

func parseConfigArgs(args []string, stderr io.Writer) (configArgs, error) {
	var a configArgs
	fs := newFlags("config", stderr)
	fs.StringVar(&a.name, "name", DefaultConfigParameter, "SSM parameter to write")
	fs.StringVar(&a.file, "file", "", "configuration document (decK file, Admin-API plugin object or plugin config; YAML or JSON)")
	fs.BoolVar(&a.secure, "secure", false, "store as a SecureString (only needed if the document holds secrets inline rather than as references)")
	fs.BoolVar(&a.dryRun, "dry-run", false, "validate only; write nothing")
	fs.BoolVar(&a.skipRefs, "skip-ref-check", false, "do not check that referenced SSM parameters exist")
	fs.BoolVar(&a.allowOpen, "allow-open", false, "store a document with routes that need no client key (only if IAM auth or an authorizer in front of the function checks callers)")
	if err := parseFlags(fs, args); err != nil {
		return a, err
	}
	if a.file == "" {
		return a, usageError{"-file is required"}
	}
	if a.name == "" {
		return a, usageError{"-name is required"}
	}
	return a, nil
}

// runConfig validates a configuration document and, unless -dry-run,
// stores it.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := parseConfigArgs(args, stderr)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(a.file)
	if err != nil {
		return err
	}
	if len(data) > maxValue {
		return fmt.Errorf("%s is %d bytes; an SSM parameter holds at most %d", a.file, len(data), maxValue)
	}
	// A dry run that skips the reference check needs no AWS at all.
	var client ssmClient
	if !a.skipRefs || !a.dryRun {
		if client, err = newClient(ctx); err != nil {
			return err
		}
	}
	if err := validateConfig(ctx, a, data, client, stderr); err != nil {
		return err
	}
	if a.dryRun {
		fmt.Fprintf(stdout, "dry run: %s not written\n", a.name)
		return nil
	}
	return putConfig(ctx, client, a, data, stdout)
}

// validateConfig parses the document as the function will, with
// placeholders for its references (checked to exist in SSM unless
// -skip-ref-check), refuses open routes unless -allow-open, and says on
// stderr what it checked.
func validateConfig(ctx context.Context, a configArgs, data []byte, client ssmClient, stderr io.Writer) error {
	checker := &refChecker{stderr: stderr}
	if !a.skipRefs {
		checker.client = client
	}
	cfg, err := config.Parse(ctx, data, config.Options{LookupEnv: checker.lookupEnv, Secrets: checker})
	if err != nil {
		return fmt.Errorf("%s is not a valid configuration, nothing written:\n%w", a.file, err)
	}
	if err := checkKeyAuth(cfg, a.allowOpen, stderr); err != nil {
		return fmt.Errorf("%s: %w", a.file, err)
	}
	fmt.Fprintf(stderr, "%s: valid", a.file)
	if len(checker.names) > 0 {
		if a.skipRefs {
			fmt.Fprintf(stderr, "; references not checked: %s", strings.Join(checker.names, ", "))
		} else {
			fmt.Fprintf(stderr, "; referenced parameters exist: %s", strings.Join(checker.names, ", "))
		}
	}
	fmt.Fprintln(stderr)
	return nil
}

// putConfig writes the validated document.
func putConfig(ctx context.Context, client ssmClient, a configArgs, data []byte, stdout io.Writer) error {
	typ := ssmtypes.ParameterTypeString
	if a.secure {
		typ = ssmtypes.ParameterTypeSecureString
	}
	out, err := client.PutParameter(ctx, &ssm.PutParameterInput{
		Name:      aws.String(a.name),
		Value:     aws.String(string(data)),
		Type:      typ,
		Overwrite: aws.Bool(true),
		// Standard (free) up to 4 KB, advanced only for a larger document.
		Tier:        ssmtypes.ParameterTierIntelligentTiering,
		Description: aws.String("lambda-ai-proxy configuration document (ssmput config)"),
	})
	if err != nil {
		return fmt.Errorf("put parameter %s: %w", a.name, configsource.SafeError(err))
	}
	fmt.Fprintf(stdout, "stored %s version %d (%s)\n", a.name, out.Version, typ)
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
