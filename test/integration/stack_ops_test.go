package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"go.yaml.in/yaml/v3"
)

// stackNamespace is the EMF namespace the template gives the function, as
// it appears inside !Sub strings.
const stackNamespace = "LambdaAIProxy/${AWS::StackName}"

// emitted is what the proxy's statistics write for one streamed request by
// a configured consumer: the EMF metric names and dimension sets, and the
// request log line. Read through the handler (newEnv), not pkg/stats'
// constructor, so the check follows whatever pkg/stats becomes.
type emitted struct {
	metrics map[string]bool // metric name
	dimSets [][]string
	logLine map[string]any
}

const statsDoc = `_format_version: "3.0"
routes:
  - name: openai-chat
    paths: ["~/(?<model>[^#?/]+)/chat/completions$"]
    methods: [POST]
plugins:
  - name: key-auth
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      auth: {header_name: Authorization, header_value: "Bearer KEY"}
      logging: {log_statistics: true}
      model:
        provider: openai
        name: "$(uri_captures.model)"
        options: {upstream_url: "UPSTREAM/v1/chat/completions", input_cost: 1, output_cost: 2}
consumers:
  - username: team-a
    keyauth_credentials: [{key: team-a-key-0123}]
`

func emitOnce(t *testing.T) emitted {
	t.Helper()
	e := newEnv(t, statsDoc)
	client := e.clientWithKey("gpt-4o-mini", "team-a-key-0123")
	stream := client.Chat.Completions.NewStreaming(context.Background(),
		openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: userMessage("hi")})
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the EMF record and the request line", func() bool {
		return strings.Contains(e.emf.String(), "_aws") && len(lines(t, e.logs, "request")) > 0
	})
	var rec struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Dimensions [][]string
				Metrics    []struct{ Name string }
			}
		} `json:"_aws"`
	}
	first, _, _ := strings.Cut(strings.TrimSpace(e.emf.String()), "\n")
	if err := json.Unmarshal([]byte(first), &rec); err != nil || len(rec.AWS.CloudWatchMetrics) == 0 {
		t.Fatalf("EMF record: %v %s", err, e.emf.String())
	}
	out := emitted{metrics: map[string]bool{}, logLine: lines(t, e.logs, "request")[0]}
	for _, d := range rec.AWS.CloudWatchMetrics {
		for _, m := range d.Metrics {
			out.metrics[m.Name] = true
		}
		out.dimSets = append(out.dimSets, d.Dimensions...)
	}
	return out
}

func (e emitted) hasDims(dims ...string) bool {
	for _, d := range e.dimSets {
		a, b := slices.Clone(d), slices.Clone(dims)
		sort.Strings(a)
		sort.Strings(b)
		if slices.Equal(a, b) {
			return true
		}
	}
	return false
}

var miQuery = regexp.MustCompile(`^SELECT (SUM|AVG|MAX|MIN)\((\w+)\) FROM SCHEMA\("([^"]+)", (\w+)\)$`)

// The alarms the README promised exist as resources, notify the optional
// topic, and watch metrics pkg/stats really writes, in the namespace the
// function really uses: an alarm on a metric nobody emits stays silent.
func TestStackAlarms(t *testing.T) {
	tpl := deployed(t)
	em := emitOnce(t)

	fn := tpl.Resources["AiProxyFunction"]
	env := fn.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	if got := jsonOf(t, env["AIPROXY_METRICS_NAMESPACE"]); got != jsonOf(t, map[string]any{"Fn::Sub": stackNamespace}) {
		t.Fatalf("AIPROXY_METRICS_NAMESPACE = %s", got)
	}

	// alarm -> the EMF metric it watches ("" for Lambda's own metrics).
	want := map[string]string{
		"Errors5xxAlarm":           "Errors5xx",
		"StreamErrorsAlarm":        "StreamErrors",
		"ClientErrorRateAlarm":     "Errors4xx",
		"TimeToFirstTokenAlarm":    "TimeToFirstToken",
		"CompletionTokensAlarm":    "CompletionTokens",
		"ThrottlesAlarm":           "",
		"DurationNearTimeoutAlarm": "",
	}
	alarms := tpl.OfType("AWS::CloudWatch::Alarm")
	sort.Strings(alarms)
	if len(alarms) != len(want) {
		t.Errorf("alarms = %v", alarms)
	}
	for id, metric := range want {
		a, ok := tpl.Resources[id]
		if !ok {
			t.Errorf("no alarm %s", id)
			continue
		}
		p := a.Properties
		topic := `{"Fn::If":["HasAlarmTopic",[{"Ref":"AlarmTopicArn"}],{"Ref":"AWS::NoValue"}]}`
		if jsonOf(t, p["AlarmActions"]) != topic || jsonOf(t, p["OKActions"]) != topic {
			t.Errorf("%s does not notify the optional topic: %s", id, jsonOf(t, p["AlarmActions"]))
		}
		if p["TreatMissingData"] != "notBreaching" {
			t.Errorf("%s: TreatMissingData = %v (an idle proxy is healthy)", id, p["TreatMissingData"])
		}
		if metric == "" {
			checkLambdaAlarm(t, id, p)
			continue
		}
		if !em.metrics[metric] {
			t.Errorf("%s watches %s, which pkg/stats does not emit", id, metric)
		}
		if q, ok := p["Metrics"].([]any); ok {
			checkInsightsAlarm(t, id, metric, q, em)
			continue
		}
		// A percentile: one metric, Route dimension.
		if jsonOf(t, p["Namespace"]) != jsonOf(t, map[string]any{"Fn::Sub": stackNamespace}) || p["MetricName"] != metric {
			t.Errorf("%s watches %v %v", id, p["Namespace"], p["MetricName"])
		}
		if jsonOf(t, p["Dimensions"]) != `[{"Name":"Route","Value":{"Ref":"AlarmRouteName"}}]` || !em.hasDims("Route") {
			t.Errorf("%s dimensions %s; emitted sets %v", id, jsonOf(t, p["Dimensions"]), em.dimSets)
		}
		if p["ExtendedStatistic"] != "p90" {
			t.Errorf("%s statistic = %v", id, p["ExtendedStatistic"])
		}
	}
}

// checkInsightsAlarm checks a Metrics Insights alarm sums (or averages)
// metric over every route of this stack's namespace.
func checkInsightsAlarm(t *testing.T, id, metric string, q []any, em emitted) {
	t.Helper()
	if len(q) != 1 {
		t.Errorf("%s: %d queries", id, len(q))
		return
	}
	m := q[0].(map[string]any)
	expr, _ := m["Expression"].(map[string]any)["Fn::Sub"].(string)
	g := miQuery.FindStringSubmatch(expr)
	if g == nil || g[2] != metric || g[3] != stackNamespace || g[4] != "Route" {
		t.Errorf("%s: query %q does not read %s over every Route of %s", id, expr, metric, stackNamespace)
		return
	}
	if !em.hasDims("Route") {
		t.Errorf("%s: pkg/stats no longer emits a Route-only dimension set: %v", id, em.dimSets)
	}
	if m["ReturnData"] != true {
		t.Errorf("%s: ReturnData = %v", id, m["ReturnData"])
	}
}

// checkLambdaAlarm checks an alarm on the function's own AWS/Lambda metrics.
func checkLambdaAlarm(t *testing.T, id string, p map[string]any) {
	t.Helper()
	s := jsonOf(t, p)
	if !strings.Contains(s, `"Namespace":"AWS/Lambda"`) || !strings.Contains(s, `{"Name":"FunctionName","Value":{"Ref":"AiProxyFunction"}}`) {
		t.Errorf("%s is not on this function's AWS/Lambda metrics: %s", id, s)
	}
	if id == "DurationNearTimeoutAlarm" && (!strings.Contains(s, `"Expression":{"Fn::Sub":"m1 / (${Timeout} * 1000)"}`) || p["Threshold"].(float64) >= 1) {
		t.Errorf("%s does not compare Duration with the Timeout parameter: %s", id, s)
	}
}

// The dashboard: valid JSON once CloudFormation substitutes it, every
// variable it names exists, it shows what the issue asks for, and its URL is
// the stack's first output.
func TestStackDashboard(t *testing.T) {
	tpl := deployed(t)
	d, ok := tpl.Resources["Dashboard"]
	if !ok || d.Type != "AWS::CloudWatch::Dashboard" {
		t.Fatal("no Dashboard")
	}
	sub := d.Properties["DashboardBody"].(map[string]any)["Fn::Sub"].([]any)
	body, vars := sub[0].(string), sub[1].(map[string]any)
	if jsonOf(t, vars["Ns"]) != jsonOf(t, map[string]any{"Fn::Sub": stackNamespace}) {
		t.Errorf("dashboard namespace = %s", jsonOf(t, vars["Ns"]))
	}
	ref := regexp.MustCompile(`\$\{([^}!]+)\}`)
	for _, m := range ref.FindAllStringSubmatch(body, -1) {
		name, _, _ := strings.Cut(m[1], ".")
		_, isParam := tpl.Parameters[name]
		_, isRes := tpl.Resources[name]
		if !isParam && !isRes && vars[name] == nil && !strings.HasPrefix(name, "AWS::") {
			t.Errorf("dashboard names ${%s}, which the template does not define", m[1])
		}
	}
	var dash struct {
		Widgets []struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal([]byte(ref.ReplaceAllString(body, "X")), &dash); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v", err)
	}
	all := ref.ReplaceAllString(body, "X")
	for _, w := range []string{
		`MetricName=\"Requests\"', 'Sum'`, `MetricName=\"Errors5xx\"`, `MetricName=\"Errors4xx\"`, `MetricName=\"StreamErrors\"`,
		`{\"X\",Route,Model} MetricName=\"PromptTokens\"`, `{\"X\",Route,Model} MetricName=\"CompletionTokens\"`,
		`{\"X\",Route,Model} MetricName=\"Cost\"`, `{\"X\",Consumer} MetricName=\"Cost\"`, `{\"X\",Consumer} MetricName=\"Requests\"`,
		`MetricName=\"TimeToFirstToken\"', 'p90'`, `MetricName=\"Latency\"', 'p99'`, `"ConcurrentExecutions"`, `"Throttles"`,
	} {
		if !strings.Contains(all, w) {
			t.Errorf("dashboard lacks %s", w)
		}
	}
	alarmsShown := 0
	for _, w := range dash.Widgets {
		if w.Type == "alarm" {
			alarmsShown = len(w.Properties["alarms"].([]any))
		}
	}
	if n := len(tpl.OfType("AWS::CloudWatch::Alarm")); alarmsShown != n {
		t.Errorf("alarm widget shows %d of %d alarms", alarmsShown, n)
	}

	// The Logs Insights table reads fields the request log line has, and the
	// per-consumer widgets read Consumer as its own dimension set.
	em := emitOnce(t)
	for _, d := range em.dimSets {
		if slices.Contains(d, "Consumer") && len(d) != 1 {
			t.Errorf("the EMF has Consumer in %v; the dashboard reads {Consumer} alone", d)
		}
	}
	for _, path := range []string{"msg", "consumer", "ai.proxy.usage.prompt_tokens", "ai.proxy.usage.completion_tokens", "ai.proxy.usage.cost", "ai.proxy.meta.request_model"} {
		if !strings.Contains(body, path) {
			t.Errorf("usage query does not read %s", path)
		}
		var v any = em.logLine
		for _, k := range strings.Split(path, ".") {
			v = v.(map[string]any)[k]
		}
		if v == nil {
			t.Errorf("the request log line has no %s", path)
		}
	}

	if first := firstOutput(t); first != "DashboardUrl" {
		t.Errorf("first output = %s, want DashboardUrl", first)
	}
	if u := jsonOf(t, tpl.Outputs["DashboardUrl"]["Value"]); !strings.Contains(u, "#dashboards/dashboard/${Dashboard}") {
		t.Errorf("DashboardUrl = %s", u)
	}
}

// firstOutput reads template.yaml in order (maps lose it).
func firstOutput(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "Outputs" {
			return root.Content[i+1].Content[0].Value
		}
	}
	t.Fatal("no Outputs")
	return ""
}

// Logs expire, a cost cap is one parameter away, and the REST API has only
// its documented stage.
func TestStackLogsConcurrencyStages(t *testing.T) {
	tpl := deployed(t)
	if p := tpl.Parameters["LogRetentionDays"]; p["Default"] != "30" && p["Default"] != float64(30) {
		t.Errorf("LogRetentionDays default = %v", p["Default"])
	}
	lg := tpl.Resources["FunctionLogGroup"]
	if lg.Type != "AWS::Logs::LogGroup" || jsonOf(t, lg.Properties["RetentionInDays"]) != `{"Ref":"LogRetentionDays"}` {
		t.Errorf("FunctionLogGroup = %+v", lg)
	}
	fn := tpl.Resources["AiProxyFunction"].Properties
	if got := jsonOf(t, fn["LoggingConfig"]); !strings.Contains(got, `"LogGroup":{"Ref":"FunctionLogGroup"}`) {
		t.Errorf("the function does not log to the retained group: %s", got)
	}
	if p := tpl.Parameters["ReservedConcurrency"]; p["Default"] != "" {
		t.Errorf("ReservedConcurrency default = %v, want empty (unreserved)", p["Default"])
	}
	if got := jsonOf(t, fn["ReservedConcurrentExecutions"]); got != `{"Fn::If":["HasReservedConcurrency",{"Ref":"ReservedConcurrency"},{"Ref":"AWS::NoValue"}]}` {
		t.Errorf("ReservedConcurrentExecutions = %s", got)
	}
	var stages []string
	for _, id := range tpl.OfType("AWS::ApiGateway::Deployment") {
		if s, ok := tpl.Resources[id].Properties["StageName"]; ok {
			t.Errorf("%s creates stage %v besides v1", id, s)
		}
	}
	for _, id := range append(tpl.OfType("AWS::ApiGateway::Stage"), tpl.OfType("AWS::ApiGatewayV2::Stage")...) {
		stages = append(stages, tpl.Resources[id].Properties["StageName"].(string))
	}
	sort.Strings(stages)
	if !slices.Equal(stages, []string{"$default", "v1"}) {
		t.Errorf("stages = %v", stages)
	}
	body := jsonOf(t, tpl.Resources["RestApi"].Properties["Body"])
	if !strings.Contains(body, `"swagger":"2.0"`) || !strings.Contains(body, "response-streaming-invocations") {
		t.Errorf("REST API body lost its streaming integration: %.300s", body)
	}
}

// The function reads exactly the config, the upstream key, the seed's
// client key and the team keys under ClientKeyPathPrefix, and decrypts only
// those through SSM.
func TestStackSSMScope(t *testing.T) {
	tpl := deployed(t)
	arn := func(param string) string {
		return `{"Fn::Sub":"arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${` + param + `}"}`
	}
	wantRead := "[" + strings.Join([]string{arn("ConfigParameterName"), arn("ApiKeyParameterName"), arn("ClientKeyParameterName"),
		strings.TrimSuffix(arn("ClientKeyPathPrefix"), `"}`) + `*"}`}, ",") + "]"
	wantKMS := "[" + strings.Join([]string{arn("ApiKeyParameterName"), arn("ClientKeyParameterName"),
		strings.TrimSuffix(arn("ClientKeyPathPrefix"), `"}`) + `*"}`}, ",") + "]"
	var sawRead, sawKMS bool
	for _, s := range roleStatements(t, tpl, "AiProxyFunctionRole") {
		acts := actions(s.body)
		switch {
		case slices.Equal(acts, []string{"ssm:GetParameter", "ssm:GetParameters"}):
			sawRead = true
			if got := jsonOf(t, s.body["Resource"]); got != wantRead {
				t.Errorf("ssm read resources = %s\nwant %s", got, wantRead)
			}
		case slices.Equal(acts, []string{"kms:Decrypt"}):
			sawKMS = true
			cond := s.body["Condition"].(map[string]any)
			if got := jsonOf(t, cond["StringEquals"]); got != `{"kms:ViaService":{"Fn::Sub":"ssm.${AWS::Region}.amazonaws.com"}}` {
				t.Errorf("kms ViaService condition = %s", got)
			}
			like, _ := cond["StringLike"].(map[string]any)
			if got := jsonOf(t, like["kms:EncryptionContext:PARAMETER_ARN"]); got != wantKMS {
				t.Errorf("kms PARAMETER_ARN = %s\nwant %s", got, wantKMS)
			}
		default:
			for _, a := range acts {
				if strings.HasPrefix(a, "ssm:") || strings.HasPrefix(a, "kms:") || strings.Contains(a, "*") {
					t.Errorf("unexpected grant %v", acts)
				}
			}
		}
	}
	if !sawRead || !sawKMS {
		t.Errorf("read %v, decrypt %v", sawRead, sawKMS)
	}
	if p := tpl.Parameters["ClientKeyPathPrefix"]; p["Default"] != "/aiproxy/clients/" {
		t.Errorf("ClientKeyPathPrefix default = %v", p["Default"])
	}
}

// seedDigest pins the seeded configuration. CloudFormation rewrites the
// parameter whenever these properties change, which would overwrite the
// document every operator stored with `make put-config` at their next
// deploy. Change it only with a release note saying so.
const seedDigest = "aff68acd8743dd23ba18d2c83759ce0620e42bfa60503232de73302b1ab6b1e5"

func TestStackConfigSeededOnce(t *testing.T) {
	tpl := deployed(t)
	c := tpl.Resources["ConfigParameter"]
	if c.DeletionPolicy != "Retain" || c.UpdateReplacePolicy != "Retain" {
		t.Errorf("ConfigParameter policies = %q/%q: sam delete or a replacement would destroy the operator's config", c.DeletionPolicy, c.UpdateReplacePolicy)
	}
	sum := sha256.Sum256([]byte(jsonOf(t, c.Properties)))
	if got := hex.EncodeToString(sum[:]); got != seedDigest {
		t.Errorf("the seeded config's properties changed (digest %s): every deployed stack would have its config overwritten", got)
	}
	fn := tpl.Resources["AiProxyFunction"].Properties
	env := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	if jsonOf(t, env["AIPROXY_CONFIG_PARAMETER"]) != `{"Ref":"ConfigParameter"}` {
		t.Errorf("AIPROXY_CONFIG_PARAMETER = %v", env["AIPROXY_CONFIG_PARAMETER"])
	}
}
