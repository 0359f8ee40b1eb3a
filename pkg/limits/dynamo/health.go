package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/health"
)

// The health of ai-proxy-advanced targets shares the rate-limit table: one
// small item per target, keyed "health#<route>|<target>", holding
//   - its circuit: when it half-opens ("open_until", unix ms, 0 when
//     closed) and when that was decided ("changed", unix ms), written only
//     when a circuit opens or closes, a newer decision never overwritten by
//     an older one;
//   - its figures' two windows (health.Figures), each in the attributes
//     "w<slot>_start", "w<slot>_ls", "w<slot>_lw", "w<slot>_u", where every
//     instance ADDs its new sums; an ADD counts only while the slot holds
//     the same window, and the first instance into a new window resets the
//     slot. The sums are fixed-point integers (figureUnit), because
//     DynamoDB adds integers exactly where decimals could exceed its 38
//     digits.
//
// Every instance's background refresh reads the items in batches; the TTL
// removes items of targets nobody uses any more.
const (
	healthPrefix    = "health#"
	openUntilAttr   = "open_until"
	changedAttr     = "changed"
	healthRetention = 24 * time.Hour
	figureUnit      = 1e6
)

// HealthAPI is the part of the DynamoDB client the health store uses.
type HealthAPI interface {
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
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
				out[k.Value[len(healthPrefix):]] = health.State{OpenUntil: millis(item[openUntilAttr]), Changed: millis(item[changedAttr]), Figures: figures(item)}
			}
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

// Save implements health.Store: the circuit's attributes only, so that
// the figures stay, and only over an older decision.
func (h *Health) Save(ctx context.Context, k string, s health.State) error {
	_, err := h.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(h.table),
		Key:                      key(healthPrefix + k),
		UpdateExpression:         aws.String("SET #o = :o, #c = :c, #e = :e"),
		ConditionExpression:      aws.String("attribute_not_exists(#c) OR #c < :c"),
		ExpressionAttributeNames: map[string]string{"#o": openUntilAttr, "#c": changedAttr, "#e": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":o": unixMillis(s.OpenUntil), ":c": unixMillis(s.Changed), ":e": expiry(),
		},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("write circuit state to table %s: %w", h.table, err)
	}
	return nil
}

// Add implements health.Store: an ADD into the window's slot while it
// holds that window; else a reset of the slot to it, if what it holds is
// older; else (another instance reset it first) the ADD once more. A
// window older than the slot's is dropped: it no longer counts.
func (h *Health) Add(ctx context.Context, k string, w health.Window) error {
	slot := "w" + strconv.FormatInt(w.Start&1, 10) + "_"
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(h.table),
		Key:       key(healthPrefix + k),
		ExpressionAttributeNames: map[string]string{
			"#s": slot + "start", "#ls": slot + "ls", "#lw": slot + "lw", "#u": slot + "u", "#e": TTLAttribute,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":s": num(float64(w.Start)), ":ls": fixed(w.LatencySum), ":lw": fixed(w.LatencyWeight), ":u": fixed(w.Usage), ":e": expiry(),
		},
	}
	add := func() error {
		in.UpdateExpression = aws.String("ADD #ls :ls, #lw :lw, #u :u SET #e = :e")
		in.ConditionExpression = aws.String("#s = :s")
		_, err := h.api.UpdateItem(ctx, in)
		return err
	}
	err := add()
	if conditionFailed(err) {
		in.UpdateExpression = aws.String("SET #s = :s, #ls = :ls, #lw = :lw, #u = :u, #e = :e")
		in.ConditionExpression = aws.String("attribute_not_exists(#s) OR #s < :s")
		_, err = h.api.UpdateItem(ctx, in)
		if conditionFailed(err) {
			err = add()
		}
	}
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("add figures to table %s: %w", h.table, err)
	}
	return nil
}

// figures reads an item's two windows.
func figures(item map[string]types.AttributeValue) health.Figures {
	var f health.Figures
	for slot := range f {
		p := "w" + strconv.Itoa(slot) + "_"
		start := figure(item[p+"start"])
		if start <= 0 || int64(start)&1 != int64(slot) {
			continue
		}
		f[slot] = health.Window{Start: int64(start), LatencySum: figure(item[p+"ls"]) / figureUnit,
			LatencyWeight: figure(item[p+"lw"]) / figureUnit, Usage: figure(item[p+"u"]) / figureUnit}
	}
	return f
}

func conditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

func expiry() types.AttributeValue {
	return num(float64(time.Now().Add(healthRetention).Unix()))
}

// fixed is v in figureUnits, a whole number.
func fixed(v float64) types.AttributeValue { return num(math.Round(v * figureUnit)) }

func figure(v types.AttributeValue) float64 {
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0
	}
	return f
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
