// Package dynamo is the shared store of pkg/limits on Amazon DynamoDB: one
// small item per counter (a limit, an identifier and a window start), with
// a TTL attribute so that DynamoDB deletes past windows by itself.
//
// A reservation is one conditional UpdateItem per counter ("add the amount
// if the count stays within the limit"), the counters of one request sent
// at once, so that the request path waits one round trip for all its
// limits. Conditional updates on separate items are used rather than
// TransactWriteItems: a transaction conflicts with any concurrent write to
// the same item and is cancelled, which is exactly what many requests
// against one budget do, and it returns no counts for the headers. When one
// counter refuses and another accepted, the accepted one is given back with
// an unconditional ADD; until then it holds a little more than it should,
// which can only refuse, never overspend.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
)

// Attribute names: the table's key and TTL attribute (template.yaml's
// RateLimitTable) and the count.
const (
	KeyAttribute = "pk"
	TTLAttribute = "expires_at"
	countAttr    = "n"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Store implements limits.Store on one table.
type Store struct {
	api   API
	table string
}

var _ limits.Store = (*Store)(nil)

// New returns a store on the named table.
func New(api API, table string) *Store { return &Store{api: api, table: table} }

var names = map[string]string{"#n": countAttr, "#e": TTLAttribute}

// Reserve implements limits.Store.
func (s *Store) Reserve(ctx context.Context, charges []limits.Charge) (bool, []float64, error) {
	values := make([]float64, len(charges))
	fits := make([]bool, len(charges))
	errs := make([]error, len(charges))
	each(len(charges), func(i int) {
		values[i], fits[i], errs[i] = s.reserveOne(ctx, charges[i])
	})
	if err := errors.Join(errs...); err != nil {
		s.giveBack(ctx, charges, fits)
		return false, nil, err
	}
	for _, ok := range fits {
		if !ok {
			s.giveBack(ctx, charges, fits)
			for i := range charges {
				if fits[i] {
					values[i] -= charges[i].Amount
				}
			}
			return false, values, nil
		}
	}
	return true, values, nil
}

// reserveOne adds the charge if it fits and returns the count after it, or
// the current count when it does not fit.
func (s *Store) reserveOne(ctx context.Context, c limits.Charge) (float64, bool, error) {
	room := c.Max - c.Amount
	if room < 0 {
		// More than the whole limit: it can never fit.
		return 0, false, nil
	}
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 key(c.Key),
		UpdateExpression:                    aws.String("SET #e = if_not_exists(#e, :e) ADD #n :a"),
		ConditionExpression:                 aws.String("attribute_not_exists(#n) OR #n <= :room"),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           map[string]types.AttributeValue{":a": num(c.Amount), ":e": expires(c.Counter), ":room": num(room)},
		ReturnValues:                        types.ReturnValueUpdatedNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var refused *types.ConditionalCheckFailedException
	if errors.As(err, &refused) {
		v, _ := count(refused.Item)
		return v, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reserve %s in table %s: %w", c.Key, s.table, err)
	}
	v, err := count(out.Attributes)
	if err != nil {
		return 0, false, fmt.Errorf("reserve %s: %w", c.Key, err)
	}
	return v, true, nil
}

// giveBack undoes the charges that were added, best effort: a failure
// leaves the counter a little high until its window ends.
func (s *Store) giveBack(ctx context.Context, charges []limits.Charge, added []bool) {
	var back []limits.Charge
	for i, c := range charges {
		if added[i] {
			c.Amount = -c.Amount
			back = append(back, c)
		}
	}
	if len(back) > 0 {
		_ = s.Add(context.WithoutCancel(ctx), back)
	}
}

// Add implements limits.Store: an unconditional ADD per counter, which also
// sets the TTL on a counter it creates.
func (s *Store) Add(ctx context.Context, charges []limits.Charge) error {
	errs := make([]error, len(charges))
	each(len(charges), func(i int) {
		c := charges[i]
		_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       key(c.Key),
			UpdateExpression:          aws.String("SET #e = if_not_exists(#e, :e) ADD #n :a"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: map[string]types.AttributeValue{":a": num(c.Amount), ":e": expires(c.Counter)},
		})
		if err != nil {
			errs[i] = fmt.Errorf("add to %s in table %s: %w", c.Key, s.table, err)
		}
	})
	return errors.Join(errs...)
}

// Get implements limits.Store with strongly consistent reads.
func (s *Store) Get(ctx context.Context, counters []limits.Counter) ([]float64, error) {
	values := make([]float64, len(counters))
	errs := make([]error, len(counters))
	each(len(counters), func(i int) {
		out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:                aws.String(s.table),
			Key:                      key(counters[i].Key),
			ConsistentRead:           aws.Bool(true),
			ProjectionExpression:     aws.String("#n"),
			ExpressionAttributeNames: map[string]string{"#n": countAttr},
		})
		if err == nil {
			values[i], err = count(out.Item)
		}
		if err != nil {
			errs[i] = fmt.Errorf("read %s in table %s: %w", counters[i].Key, s.table, err)
		}
	})
	return values, errors.Join(errs...)
}

// each runs f for 0..n-1 at once and waits; one call runs inline.
func each(n int, f func(int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}

func key(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: k}}
}

// num writes a number in plain decimal notation, which DynamoDB stores
// exactly; the shortest form that reads back as the same float64.
func num(v float64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatFloat(v, 'f', -1, 64)}
}

func expires(c limits.Counter) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(c.Expires.Unix(), 10)}
}

// count reads the count of an item; an absent item or attribute is 0.
func count(item map[string]types.AttributeValue) (float64, error) {
	v, ok := item[countAttr].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v.Value, 64)
	if err != nil {
		return 0, fmt.Errorf("count %q is not a number: %w", v.Value, err)
	}
	return f, nil
}
