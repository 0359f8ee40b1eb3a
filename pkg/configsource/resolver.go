package configsource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// SSMAPI is the part of *ssm.Client this package uses, with the SDK's
// signatures. It exists so that the cache state machine can be unit-tested
// with an in-memory fake; production code passes a real *ssm.Client.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	GetParameters(ctx context.Context, in *ssm.GetParametersInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
}

var (
	_ SSMAPI                = (*ssm.Client)(nil)
	_ config.SecretResolver = (*SSMResolver)(nil)
)

// MaxNamesPerCall is SSM's limit on names in one GetParameters call.
const MaxNamesPerCall = 10

// Vault prefixes understood in {vault://PREFIX/...} references.
const (
	VaultSSM = "ssm"
	VaultEnv = "env"
)

// SSMResolver resolves the vault references of a configuration document
// (it implements config.SecretResolver):
//
//   - {vault://ssm/aiproxy/openai-api-key} is the SSM parameter
//     /aiproxy/openai-api-key, read with decryption so that SecureString
//     parameters work. A leading / is implied; {vault://ssm//aiproxy/key}
//     names the same parameter, for those who write the full name. Names
//     may carry SSM's version or label selector (/aiproxy/key:3).
//   - {vault://env/openai-key} is an environment variable, as in Kong's env
//     vault: upper-cased with - turned into _ (OPENAI_KEY). With a further
//     path element, {vault://env/secrets/openai}, the variable (SECRETS)
//     holds a JSON object and the element names its string field.
//
// Any other vault is an error. Errors name references and parameter names,
// never values.
type SSMResolver struct {
	// Client reads SSM parameters. Nil is allowed when a document has no
	// ssm references.
	Client SSMAPI
	// LookupEnv reads the environment for {vault://env/...}. Nil means no
	// environment: any env reference is an error.
	LookupEnv func(string) (string, bool)
	// OnResolved, if set, receives every value returned, so that a caller
	// can scrub them from error messages built later.
	OnResolved func(value string)
	// Revocable lists references that stand alone as a key-auth key (see
	// config.CredentialRefs). When the SSM parameter of such a reference
	// does not exist, the key was revoked (its parameter deleted): the
	// reference resolves to a fresh random value that no client can
	// present, instead of failing the whole document.
	Revocable map[string]bool
	// OnRevoked, if set, is told the parameter name of each revoked key.
	OnRevoked func(name string)
}

// ResolveSecrets implements config.SecretResolver. All ssm references are
// read with as few GetParameters calls as SSM allows (10 names per call).
func (r *SSMResolver) ResolveSecrets(ctx context.Context, refs []string) (map[string]string, error) {
	out := make(map[string]string, len(refs))
	byName := map[string][]string{} // SSM parameter name -> refs naming it
	for _, ref := range refs {
		vault, path, err := splitRef(ref)
		if err != nil {
			return nil, err
		}
		switch vault {
		case VaultSSM:
			name, err := ssmName(ref, path)
			if err != nil {
				return nil, err
			}
			byName[name] = append(byName[name], ref)
		case VaultEnv:
			v, err := r.envValue(ref, path)
			if err != nil {
				return nil, err
			}
			r.resolved(v)
			out[ref] = v
		default:
			return nil, fmt.Errorf("vault reference %s: unknown vault %q (supported: %s, %s)", ref, vault, VaultSSM, VaultEnv)
		}
	}
	if len(byName) == 0 {
		return out, nil
	}
	if r.Client == nil {
		return nil, fmt.Errorf("vault reference %s: no SSM client is configured", firstRef(byName))
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	values, err := GetParameterValues(ctx, r.Client, names, true)
	if err != nil {
		if values, err = r.revoke(values, err, byName); err != nil {
			return nil, err
		}
	}
	for name, v := range values {
		r.resolved(v)
		for _, ref := range byName[name] {
			out[ref] = v
		}
	}
	return out, nil
}

// revoke turns the missing parameters of a failed read into revoked keys
// when every reference to them is Revocable; otherwise the read fails as
// before. values are the parameters that were found.
func (r *SSMResolver) revoke(values map[string]string, err error, byName map[string][]string) (map[string]string, error) {
	var me *MissingParametersError
	if !errors.As(err, &me) {
		return nil, err
	}
	for _, name := range me.Names {
		for _, ref := range byName[name] {
			if !r.Revocable[ref] {
				return nil, err
			}
		}
	}
	for _, name := range me.Names {
		v, rerr := revokedKey()
		if rerr != nil {
			return nil, rerr
		}
		values[name] = v
		if r.OnRevoked != nil {
			r.OnRevoked(name)
		}
	}
	return values, nil
}

// revokedKey is a key-auth key nobody holds: 32 random bytes, never
// logged or stored anywhere else.
func revokedKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("revoke a key: %w", err)
	}
	return "revoked-" + hex.EncodeToString(b), nil
}

func (r *SSMResolver) resolved(v string) {
	if r.OnResolved != nil {
		r.OnResolved(v)
	}
}

func firstRef(byName map[string][]string) string {
	var all []string
	for _, refs := range byName {
		all = append(all, refs...)
	}
	sort.Strings(all)
	return all[0]
}

// MissingParametersError lists SSM parameters that do not exist (SSM's
// InvalidParameters). It names parameters only.
type MissingParametersError struct {
	Names []string
}

func (e *MissingParametersError) Error() string {
	return "SSM parameters not found: " + strings.Join(e.Names, ", ")
}

// GetParameterValues reads parameters by name in batches of
// MaxNamesPerCall and returns their values keyed by the names as given.
// Names that SSM reports as invalid make it return a
// *MissingParametersError naming all of them, together with the values of
// the names that were found. Errors from the SDK are
// passed through SafeError, so they cannot carry a value.
//
// A name with a version or label selector (/x:3, /x:prod) is read in a call
// of its own: SSM answers it as Name /x (with the selector in a separate
// field that moto leaves out), which a shared batch could not tell apart
// from /x itself.
func GetParameterValues(ctx context.Context, client SSMAPI, names []string, decrypt bool) (map[string]string, error) {
	var plain, batches [][]string
	var cur []string
	for _, n := range names {
		if strings.Contains(n, ":") { // never part of a parameter name
			batches = append(batches, []string{n})
			continue
		}
		if cur = append(cur, n); len(cur) == MaxNamesPerCall {
			plain, cur = append(plain, cur), nil
		}
	}
	if len(cur) > 0 {
		plain = append(plain, cur)
	}
	batches = append(plain, batches...)

	values := make(map[string]string, len(names))
	var missing []string
	for _, batch := range batches {
		out, err := client.GetParameters(ctx, &ssm.GetParametersInput{Names: batch, WithDecryption: aws.Bool(decrypt)})
		if err != nil {
			return nil, fmt.Errorf("read SSM parameters %s: %w", strings.Join(batch, ", "), SafeError(err))
		}
		for _, p := range out.Parameters {
			key := aws.ToString(p.Name)
			if len(batch) == 1 {
				key = batch[0] // the selector case: the only name asked for
			}
			values[key] = aws.ToString(p.Value)
		}
		missing = append(missing, out.InvalidParameters...)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return values, &MissingParametersError{Names: missing}
	}
	var unanswered []string
	for _, n := range names {
		if _, ok := values[n]; !ok {
			unanswered = append(unanswered, n)
		}
	}
	if len(unanswered) > 0 {
		return nil, fmt.Errorf("SSM returned no value for parameters: %s", strings.Join(unanswered, ", "))
	}
	return values, nil
}

// splitRef splits "{vault://ssm/a/b}" into ("ssm", "a/b").
func splitRef(ref string) (vault, path string, err error) {
	body, ok := strings.CutPrefix(ref, "{vault://")
	if ok {
		body, ok = strings.CutSuffix(body, "}")
	}
	if !ok {
		return "", "", fmt.Errorf("vault reference %s: expected {vault://VAULT/NAME}", ref)
	}
	if strings.ContainsAny(body, "?#") {
		// Kong allows ?ttl=... options; silently dropping them would hide
		// that they do nothing here.
		return "", "", fmt.Errorf("vault reference %s: query options are not supported", ref)
	}
	vault, path, ok = strings.Cut(body, "/")
	if !ok || path == "" || vault == "" {
		return "", "", fmt.Errorf("vault reference %s: expected {vault://VAULT/NAME}", ref)
	}
	return vault, path, nil
}

// ssmName maps the path of an ssm reference to a parameter name.
func ssmName(ref, path string) (string, error) {
	name := "/" + strings.TrimPrefix(path, "/")
	if name == "/" || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return "", fmt.Errorf("vault reference %s: %q is not an SSM parameter name", ref, name)
	}
	return name, nil
}

// ParameterName returns the SSM parameter that an ssm vault reference
// names, e.g. "/aiproxy/openai-api-key" for
// "{vault://ssm/aiproxy/openai-api-key}". ok is false for other vaults.
func ParameterName(ref string) (name string, ok bool, err error) {
	vault, path, err := splitRef(ref)
	if err != nil || vault != VaultSSM {
		return "", false, err
	}
	name, err = ssmName(ref, path)
	return name, err == nil, err
}

// envValue resolves an env vault reference.
func (r *SSMResolver) envValue(ref, path string) (string, error) {
	varPart, key, hasKey := strings.Cut(path, "/")
	name := EnvVarName(varPart)
	if err := checkEnvName(name); err != nil {
		return "", fmt.Errorf("vault reference %s: %w", ref, err)
	}
	if r.LookupEnv == nil {
		return "", fmt.Errorf("vault reference %s: no environment is available", ref)
	}
	v, ok := r.LookupEnv(name)
	if !ok {
		return "", fmt.Errorf("vault reference %s: environment variable %s is not set", ref, name)
	}
	if !hasKey {
		return v, nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(v), &obj); err != nil {
		// Never wrap the JSON error: its message can quote the value.
		return "", fmt.Errorf("vault reference %s: environment variable %s does not hold a JSON object", ref, name)
	}
	s, ok := obj[key].(string)
	if !ok {
		return "", fmt.Errorf("vault reference %s: environment variable %s has no string field %q", ref, name, key)
	}
	return s, nil
}

// EnvVarName is the variable Kong's env vault reads for a reference name:
// upper case, with - as _.
func EnvVarName(ref string) string {
	return strings.ToUpper(strings.ReplaceAll(ref, "-", "_"))
}

// errAWSEnv refuses environment variables that hold the function's own AWS
// credentials and settings: whoever can edit the configuration must not be
// able to send the Lambda role's keys to an upstream of their choosing.
var errAWSEnv = errors.New("AWS_* environment variables cannot be referenced from the configuration")

func checkEnvName(name string) error {
	if strings.HasPrefix(strings.ToUpper(name), "AWS_") {
		return fmt.Errorf("%s: %w", name, errAWSEnv)
	}
	return nil
}

// GuardLookupEnv wraps an environment lookup for ${{ env "NAME" }} so
// that it refuses AWS_* variables (see SSMResolver). A refused name looks
// unset, so config.Parse reports it at its field path.
func GuardLookupEnv(lookup func(string) (string, bool)) func(string) (string, bool) {
	if lookup == nil {
		return nil
	}
	return func(name string) (string, bool) {
		if checkEnvName(name) != nil {
			return "", false
		}
		return lookup(name)
	}
}
