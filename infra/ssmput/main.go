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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

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
