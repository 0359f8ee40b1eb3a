// Package bedrock is the driver for Amazon Bedrock (model.provider:
// bedrock): OpenAI chat requests become Converse / ConverseStream calls made
// with the AWS SDK's bedrockruntime client, and its answers and stream
// events become an OpenAI chat completion or chunk stream, event by event.
//
// Signing, credentials (the SDK's default chain, static keys from
// auth.aws_access_key_id, or an STS role), endpoint resolution
// (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, upstream_url), retries of throttled
// calls before the first byte and event-stream decoding are the SDK's. The
// only byte-level code here is frameGuard, which reads each event-stream
// frame's prelude as it passes and refuses a frame longer than the limit
// before the SDK's decoder allocates it.
package bedrock

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Options configure the driver.
type Options struct {
	// Config is the AWS SDK's default configuration
	// (config.LoadDefaultConfig), loaded once per process: region,
	// credentials chain, endpoint overrides, retries.
	Config aws.Config
	// Getenv reads AWS_REGION / AWS_DEFAULT_REGION when Config has no
	// region (os.Getenv if nil).
	Getenv func(string) string
	// MaxFrameBytes bounds one event-stream frame (1 MiB if 0) and
	// MaxBodyBytes a non-streamed answer (16 MiB if 0).
	MaxFrameBytes int
	MaxBodyBytes  int64
	// MaxClients bounds the cached clients (32 if 0).
	MaxClients int
	// Transport, when set, carries the SDK clients' requests (the proxy's
	// own upstream transport, with its connection pool and timeouts), in
	// place of Config.HTTPClient. The SDK's default client keeps at most 10
	// idle connections per host, so under more concurrent calls than that
	// nearly every call opened a new connection.
	Transport http.RoundTripper
}

// Driver is the Bedrock driver; build it with New.
type Driver struct {
	opts Options
	http aws.HTTPClient

	mu      sync.Mutex
	clients map[string]*bedrockruntime.Client
}

// New returns a driver over the SDK configuration in o.
func New(o Options) *Driver {
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = 1 << 20
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 16 << 20
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 32
	}
	inner := o.Config.HTTPClient
	if o.Transport != nil {
		inner = &http.Client{Transport: o.Transport}
	} else if inner == nil {
		inner = &http.Client{Transport: http.DefaultTransport}
	}
	return &Driver{opts: o, http: &guardClient{inner: inner, maxFrame: o.MaxFrameBytes, maxBody: o.MaxBodyBytes},
		clients: map[string]*bedrockruntime.Client{}}
}

// Prepare checks and translates the call; the SDK call happens in the
// returned transport's RoundTrip.
func (d *Driver) Prepare(c *provider.Call) (provider.Upstream, error) {
	p := c.Plugin
	if p.RouteType != config.RouteChat {
		return provider.Upstream{}, provider.Unsupported("", "route_type %s is not supported for Bedrock: only llm/v1/chat", p.RouteType)
	}
	model := c.Model
	if err := checkModelID(model); err != nil {
		return provider.Upstream{}, err
	}
	region, err := d.region(p)
	if err != nil {
		return provider.Upstream{}, err
	}
	req, err := chat.Decode(c.Body)
	if err != nil {
		return provider.Upstream{}, err
	}
	in, err := translate(req, model, p)
	if err != nil {
		return provider.Upstream{}, err
	}
	endpoint := baseEndpoint(c.Upstream)
	client := d.client(p, region, endpoint)
	op := "converse"
	if c.Stream {
		op = "converse-stream"
	}
	u := operationURL(endpoint, region, model, op)
	return provider.Upstream{URL: u, Transport: &call{client: client, in: in, stream: c.Stream,
		includeUsage: c.Stream && req.IncludeUsage(), model: model}}, nil
}

// checkModelID refuses a model id that cannot be the one path segment of
// Bedrock's /model/{id}/ URL the SDK makes of it.
func checkModelID(model string) error {
	switch model {
	case "", ".", "..":
		return provider.Invalid("model", "%q is not a Bedrock model id", model)
	}
	return nil
}

// region is model.options.bedrock.aws_region, else the SDK's (AWS_REGION),
// else AWS_DEFAULT_REGION; with none of them, the call cannot be signed and
// the error says where to set one.
func (d *Driver) region(p *config.Plugin) (string, error) {
	if b := p.Model.Options.Bedrock; b != nil && b.AWSRegion != "" {
		return b.AWSRegion, nil
	}
	if d.opts.Config.Region != "" {
		return d.opts.Config.Region, nil
	}
	if r := d.opts.Getenv("AWS_REGION"); r != "" {
		return r, nil
	}
	if r := d.opts.Getenv("AWS_DEFAULT_REGION"); r != "" {
		return r, nil
	}
	return "", &provider.Error{Status: http.StatusInternalServerError, Type: provider.TypeServer, Code: "provider_misconfigured",
		Message: "AWS region not specified anywhere: set model.options.bedrock.aws_region, AWS_REGION or AWS_DEFAULT_REGION"}
}

// operationURL is the URL of op on model at endpoint (upstream_url's base,
// see baseEndpoint), or at the region's own endpoint when that is "": the
// call's target as the proxy logs and reports it (the SDK client makes the
// call itself). The model id is one escaped path segment, as the SDK
// sends it.
func operationURL(endpoint, region, model, op string) *url.URL {
	base := endpoint
	if base == "" {
		base = "https://bedrock-runtime." + region + ".amazonaws.com"
	}
	u, _ := url.Parse(base)
	if u == nil {
		u = &url.URL{Scheme: "https", Host: "bedrock-runtime." + region + ".amazonaws.com"}
	}
	escaped := strings.TrimSuffix(u.EscapedPath(), "/")
	u.Path = strings.TrimSuffix(u.Path, "/") + "/model/" + model + "/" + op
	u.RawPath = escaped + "/model/" + url.PathEscape(model) + "/" + op
	return u
}

// baseEndpoint is upstream_url as the client's BaseEndpoint: a path from
// /model/ on (a full Bedrock URL) goes, the SDK adds its own.
func baseEndpoint(u *url.URL) string {
	if u == nil {
		return ""
	}
	b := *u
	b.RawQuery, b.Fragment = "", ""
	if k := strings.Index(b.Path, "/model/"); k >= 0 {
		b.Path, b.RawPath = b.Path[:k], ""
	}
	b.Path = strings.TrimSuffix(b.Path, "/")
	return b.String()
}

// client returns the cached client for the plugin's credentials, region
// and endpoint.
func (d *Driver) client(p *config.Plugin, region, endpoint string) *bedrockruntime.Client {
	a := p.Auth
	var b config.BedrockOptions
	if p.Model.Options.Bedrock != nil {
		b = *p.Model.Options.Bedrock
	}
	source := "default"
	if a.AWSAccessKeyID != "" {
		sum := sha256.Sum256([]byte(a.AWSSecretAccessKey))
		source = "static:" + a.AWSAccessKeyID + ":" + hex.EncodeToString(sum[:8])
	}
	if b.AssumeRoleARN != "" {
		source += "|role:" + b.AssumeRoleARN + "|" + b.RoleSessionName + "|" + b.STSEndpointURL
	}
	key := region + "\x00" + source + "\x00" + endpoint
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.clients[key]; ok {
		return c
	}
	if len(d.clients) >= d.opts.MaxClients {
		for k := range d.clients { // bounded: forget one
			delete(d.clients, k)
			break
		}
	}
	cfg := d.opts.Config.Copy()
	cfg.Region = region
	cfg.HTTPClient = d.http
	if a.AWSAccessKeyID != "" {
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(a.AWSAccessKeyID, a.AWSSecretAccessKey, ""))
	}
	if b.AssumeRoleARN != "" {
		stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
			if b.STSEndpointURL != "" {
				o.BaseEndpoint = aws.String(b.STSEndpointURL)
			}
		})
		session := b.RoleSessionName
		if session == "" {
			session = "lambda-ai-proxy"
		}
		role := stscreds.NewAssumeRoleProvider(stsClient, b.AssumeRoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = session
		})
		// Cached until shortly before the role's credentials expire.
		cfg.Credentials = aws.NewCredentialsCache(role, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 2 * time.Minute })
	}
	c := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	d.clients[key] = c
	return c
}

// Clients is how many clients the driver holds (for tests).
func (d *Driver) Clients() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.clients)
}
