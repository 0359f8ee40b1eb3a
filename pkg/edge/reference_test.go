package edge

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// probe holds just the fields that tell the event sources apart: the
// reference classifier's view of an event, decoded on its own.
type probe struct {
	Version        string  `json:"version"`
	HTTPMethod     string  `json:"httpMethod"`
	Resource       *string `json:"resource"`
	RequestContext *struct {
		DomainName string          `json:"domainName"`
		ELB        json.RawMessage `json:"elb"`
		HTTP       *struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
}

// referenceDetect classifies a raw event from a probe alone, the way the
// edge did before it decoded every source into one type.
func referenceDetect(payload []byte) (kind, error) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return 0, &UnsupportedEventError{Reason: "not a JSON object: " + err.Error()}
	}
	rc := p.RequestContext
	var method string
	if rc != nil && rc.HTTP != nil {
		method = rc.HTTP.Method
	}
	switch {
	case p.Version == "2.0" && method != "":
		if strings.Contains(rc.DomainName, ".lambda-url.") {
			return kindFunctionURL, nil
		}
		return kindHTTPAPI, nil
	case p.HTTPMethod != "" && (rc == nil || len(rc.ELB) == 0) && (p.Resource != nil || rc != nil):
		if p.Version == "1.0" {
			return kindHTTPAPIv1, nil
		}
		return kindREST, nil
	}
	return 0, errUnsupportedSource
}

// referenceDecode decodes a raw event of kind k into the source's own type.
func referenceDecode(payload []byte, k kind) (any, error) {
	var v any
	switch k {
	case kindFunctionURL:
		v = &events.LambdaFunctionURLRequest{}
	case kindHTTPAPI:
		v = &events.APIGatewayV2HTTPRequest{}
	default:
		v = &events.APIGatewayProxyRequest{}
	}
	err := json.Unmarshal(payload, v)
	return v, err
}

// converted is the event as its source's type, through the one type.
func converted(ev *event, k kind) (any, error) {
	switch k {
	case kindFunctionURL:
		return ev.functionURL()
	case kindHTTPAPI:
		return ev.httpAPI()
	default:
		return ev.proxyRequest()
	}
}

// checkAgreesWithReference fails unless decodeEvent classifies payload as
// the reference does and, where the source's type decodes it, converts it
// to an equal value. Where the reference fails, so must decodeEvent (the
// one type holds every source's fields, so a field of the wrong type fails
// it too).
func checkAgreesWithReference(t *testing.T, payload []byte) {
	t.Helper()
	wantKind, wantErr := referenceDetect(payload)
	k, ev, err := decodeEvent(payload)
	if wantErr != nil {
		if !errors.Is(err, ErrUnsupportedEvent) {
			t.Fatalf("decodeEvent = %v, %v; the reference fails: %v", k, err, wantErr)
		}
		return
	}
	want, wantDecodeErr := referenceDecode(payload, wantKind)
	if err != nil {
		if wantDecodeErr == nil {
			t.Fatalf("decodeEvent: %v; the reference decodes %v: %+v", err, wantKind, want)
		}
		return
	}
	if k != wantKind {
		t.Fatalf("kind %v, reference %v", k, wantKind)
	}
	got, err := converted(ev, k)
	if (err != nil) != (wantDecodeErr != nil) {
		t.Fatalf("conversion error %v, reference decode error %v", err, wantDecodeErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Errorf("converted\n%+v\nreference\n%+v", got, want)
	}
}

// fullEvent is an event of source k with every field of the source's type
// set to a value of its own (fill), as the classification needs it.
func fullEvent(t *testing.T, k kind) []byte {
	t.Helper()
	var v any
	switch k {
	case kindFunctionURL:
		e := &events.LambdaFunctionURLRequest{}
		fill(reflect.ValueOf(e).Elem(), "u")
		e.Version, e.RequestContext.DomainName = "2.0", "abc.lambda-url.us-east-1.on.aws"
		v = e
	case kindHTTPAPI:
		e := &events.APIGatewayV2HTTPRequest{}
		fill(reflect.ValueOf(e).Elem(), "h")
		e.Version, e.RequestContext.DomainName = "2.0", "abc.execute-api.us-east-1.amazonaws.com"
		v = e
	case kindHTTPAPIv1:
		e := &events.APIGatewayProxyRequest{}
		fill(reflect.ValueOf(e).Elem(), "v")
		v = struct {
			Version string `json:"version"`
			*events.APIGatewayProxyRequest
		}{"1.0", e}
	default:
		e := &events.APIGatewayProxyRequest{}
		fill(reflect.ValueOf(e).Elem(), "r")
		v = e
	}
	return mustJSON(t, v)
}

// fill sets every exported field under v to a non-zero value derived from
// its path, so that a field the one type drops or misplaces shows.
func fill(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(int64(len(path)))
	case reflect.Interface:
		v.Set(reflect.ValueOf(path))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				fill(v.Field(i), path+"."+f.Name)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), path+"[0]")
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		key, val := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(key, path+".key")
		fill(val, path+".value")
		m.SetMapIndex(key, val)
		v.Set(m)
	}
}
