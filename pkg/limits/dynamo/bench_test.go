package dynamo_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits/dynamo"
)

// BenchmarkRoundTrip is one GetItem against moto: the floor that a
// reservation's single round trip is measured against.
func BenchmarkRoundTrip(b *testing.B) {
	name := "bench-rt"
	moto.CreateTemplateTable(b, templatePath, logicalID, name)
	db := moto.DynamoDB()
	b.ResetTimer()
	for b.Loop() {
		_, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(name),
			Key: map[string]types.AttributeValue{dynamo.KeyAttribute: &types.AttributeValueMemberS{Value: "x"}}})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReserve is what a request with a token budget and a request
// limit (three counters: minute, hour, and the token window) waits for
// before going upstream; BenchmarkReserveSettle adds the settlement after.
// BenchmarkReserveOneCounter has only the token budget: one UpdateItem.
func BenchmarkReserve(b *testing.B)           { benchLimiter(b, false, true) }
func BenchmarkReserveSettle(b *testing.B)     { benchLimiter(b, true, true) }
func BenchmarkReserveOneCounter(b *testing.B) { benchLimiter(b, false, false) }

func benchLimiter(b *testing.B, settle, three bool) {
	name := "bench-limits"
	moto.CreateTemplateTable(b, templatePath, logicalID, name)
	l := limits.New(limits.Options{Shared: dynamo.New(motoserver.DynamoDBAt(moto.Endpoint()), name), Logger: quiet()})
	req := limits.Request{
		Policies: []*limits.Policy{tokenPolicy(1e12, limits.TotalTokens)},
		Subject:  teamA, Worst: limits.Usage{PromptTokens: 100, CompletionTokens: 200},
	}
	if three {
		req.Policies = append(req.Policies, requestPolicy(1e12, 1e12))
	}
	b.ResetTimer()
	for b.Loop() {
		d := l.Reserve(context.Background(), req)
		if d.Refusal != nil || d.StoreDown {
			b.Fatalf("decision %+v", d)
		}
		if settle {
			if err := d.Settle(context.Background(), &limits.Usage{PromptTokens: 10, CompletionTokens: 20}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
