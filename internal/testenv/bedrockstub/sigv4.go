package bedrockstub

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const amzDateFormat = "20060102T150405Z"

// sigHeader is a parsed Authorization header.
type sigHeader struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuthorization(v string) (sigHeader, bool) {
	var h sigHeader
	rest, ok := strings.CutPrefix(v, "AWS4-HMAC-SHA256 ")
	if !ok {
		return h, false
	}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return h, false
		}
		switch k {
		case "Credential":
			f := strings.Split(val, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return h, false
			}
			h.accessKey, h.date, h.region, h.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			h.signedHeaders = strings.Split(val, ";")
		case "Signature":
			h.signature = val
		}
	}
	return h, h.accessKey != "" && h.signature != "" && len(h.signedHeaders) > 0
}

// checkSignature recomputes the request's SigV4 signature with the SDK's
// own signer, over the headers the request says it signed, the body's
// SHA-256, the date it was signed at, and the server's credentials; nil
// when it matches.
func (s *Server) checkSignature(r *http.Request, body []byte, credentialsOnly bool) *APIError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &APIError{"UnrecognizedClientException", http.StatusForbidden, "Missing Authentication Token"}
	}
	h, ok := parseAuthorization(auth)
	if !ok {
		return &APIError{"InvalidSignatureException", http.StatusForbidden, "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=" + auth}
	}
	if h.accessKey != s.opts.AccessKeyID {
		return &APIError{"UnrecognizedClientException", http.StatusForbidden, "The security token included in the request is invalid."}
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if token != s.opts.SessionToken {
		return &APIError{"UnrecognizedClientException", http.StatusForbidden, "The security token included in the request is invalid."}
	}
	if h.service != SigningName {
		return &APIError{"InvalidSignatureException", http.StatusForbidden, "Credential should be scoped to correct service: '" + SigningName + "'. "}
	}
	if h.region != s.opts.Region {
		return &APIError{"InvalidSignatureException", http.StatusForbidden, "Credential should be scoped to a valid region. "}
	}
	at, err := time.Parse(amzDateFormat, r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != h.date {
		return &APIError{"InvalidSignatureException", http.StatusForbidden, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP"}
	}
	if d := time.Since(at); d > s.opts.ClockSkew || d < -s.opts.ClockSkew {
		return &APIError{"InvalidSignatureException", http.StatusForbidden, "Signature expired: " + at.Format(amzDateFormat) + " is now earlier or later than the allowed skew"}
	}

	if credentialsOnly {
		return nil
	}
	// The same request as far as the signature goes: method, escaped path,
	// query, and only the headers it signed.
	u := *r.URL
	re, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), nil)
	if err != nil {
		return &APIError{"InvalidSignatureException", http.StatusForbidden, "unparsable request URL"}
	}
	re.URL = &u
	re.Host = r.Host
	signedHost := false
	for _, name := range h.signedHeaders {
		switch name {
		case "host":
			signedHost = true
		case "content-length":
			n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
			if err != nil && r.ContentLength >= 0 {
				n = r.ContentLength
			}
			re.ContentLength = n
		default:
			if vs := r.Header.Values(name); len(vs) > 0 {
				re.Header[http.CanonicalHeaderKey(name)] = vs
			}
		}
	}
	if !signedHost {
		return &APIError{"InvalidSignatureException", http.StatusForbidden, "'Host' must be a signed header."}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: s.opts.AccessKeyID, SecretAccessKey: s.opts.SecretAccessKey, SessionToken: s.opts.SessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, hex.EncodeToString(sum[:]), SigningName, s.opts.Region, at); err != nil {
		return &APIError{"InvalidSignatureException", http.StatusForbidden, err.Error()}
	}
	want, _ := parseAuthorization(re.Header.Get("Authorization"))
	if strings.Join(want.signedHeaders, ";") != strings.Join(h.signedHeaders, ";") ||
		subtle.ConstantTimeCompare([]byte(want.signature), []byte(h.signature)) != 1 {
		return &APIError{"InvalidSignatureException", http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return nil
}
