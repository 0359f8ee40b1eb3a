package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/health"
)

// Circuit state of ai-proxy-advanced targets shares the rate-limit table:
// one small item per target, keyed "health#<route>|<target>", with when its
// circuit half-opens ("open_until", unix ms, 0 when closed) and when that
// was decided ("changed", unix ms). It is written only when a circuit
// opens or closes and read in batches by every instance's background
// refresh; the TTL removes items of targets nobody uses any more.
const (
	healthPrefix    = "health#"
	openUntilAttr   = "open_until"
	changedAttr     = "changed"
	healthRetention = 24 * time.Hour
)

// HealthAPI is the part of the DynamoDB client the circuit store uses.
type HealthAPI interface {
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Health implements health.Store on one table.
type Health struct {
	api   HealthAPI
	table string
}

var _ health.Store = (*Health)(nil)

// NewHealth returns the circuit store on the named table.
func NewHealth(api HealthAPI, table string) *Health { return &Health{api: api, table: table} }

// Load implements health.Store: one BatchGetItem per 100 keys.
func (h *Health) Load(ctx context.Context, keys []string) (map[string]health.State, error) {
	out := make(map[string]health.State, len(keys))
	for len(keys) > 0 {
		n := min(len(keys), 100)
		batch := keys[:n]
		keys = keys[n:]
		ks := make([]map[string]types.AttributeValue, len(batch))
		for i, k := range batch {
			ks[i] = key(healthPrefix + k)
		}
		req := map[string]types.KeysAndAttributes{h.table: {Keys: ks, ConsistentRead: aws.Bool(true)}}
		for tries := 0; len(req) > 0 && tries < 3; tries++ {
			res, err := h.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("read circuit state from table %s: %w", h.table, err)
			}
			for _, item := range res.Responses[h.table] {
				k, ok := item[KeyAttribute].(*types.AttributeValueMemberS)
				if !ok || len(k.Value) < len(healthPrefix) {
					continue
				}
				out[k.Value[len(healthPrefix):]] = health.State{OpenUntil: millis(item[openUntilAttr]), Changed: millis(item[changedAttr])}
			}
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

// Save implements health.Store.
func (h *Health) Save(ctx context.Context, k string, s health.State) error {
	item := key(healthPrefix + k)
	item[openUntilAttr] = unixMillis(s.OpenUntil)
	item[changedAttr] = unixMillis(s.Changed)
	item[TTLAttribute] = &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(healthRetention).Unix(), 10)}
	_, err := h.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(h.table), Item: item})
	if err != nil {
		return fmt.Errorf("write circuit state to table %s: %w", h.table, err)
	}
	return nil
}

func unixMillis(t time.Time) types.AttributeValue {
	var v int64
	if !t.IsZero() {
		v = t.UnixMilli()
	}
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func millis(v types.AttributeValue) time.Time {
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
