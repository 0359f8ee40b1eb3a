package kong

// Fixtures of the shapes of Kong's spec/fixtures/ai-proxy/openai/ files,
// written for this package: what matters to the specs is their shape (a
// chat body, a body with a misspelt member, an answer without "choices"...)
// and the figures the analytics assertions compute with, not their text.
// Request bodies are pretty-printed, as Kong's fixture files are, so that
// a difference between the client's body and the re-encoded upstream body
// shows.

const (
	// llm-v1-chat/requests/good.json: a system and a user message,
	// "stream": false.
	chatGoodRequest = `{
	"messages": [
		{"role": "system", "content": "You answer arithmetic questions."},
		{"role": "user", "content": "How much is 2 + 2?"}
	],
	"stream": false
}`
	chatUserContent = "How much is 2 + 2?"

	// llm-v1-chat/requests/good_own_model.json: good.json with a model.
	chatOwnModelRequest = `{
	"messages": [
		{"role": "system", "content": "You answer arithmetic questions."},
		{"role": "user", "content": "How much is 2 + 2?"}
	],
	"model": "try-to-override-the-model",
	"stream": false
}`

	// llm-v1-chat/requests/good_multi_modal.json: a text part and an
	// image_url part.
	chatMultiModalRequest = `{
	"messages": [
		{"role": "system", "content": "You answer arithmetic questions."},
		{"role": "user", "content": [
			{"type": "text", "text": "How many apples are there?"},
			{"type": "image_url", "image_url": {"url": "https://example.test/apples.png"}}
		]}
	],
	"stream": false
}`
	chatMultiModalText = "How many apples are there?"

	// llm-v1-chat/requests/bad_request.json: "messages" misspelt.
	chatBadRequest = `{
	"sgassem": [
		{"role": "user", "content": "How much is 2 + 2?"}
	]
}`

	// llm-v1-chat/requests/good-stream.json: good.json streamed. Its
	// prompt has 10 words: Kong's stream estimate is 10 x 1.8 = 18 tokens.
	chatStreamRequest = `{
	"messages": [
		{"role": "system", "content": "You answer arithmetic questions."},
		{"role": "user", "content": "How much is 1 + 1?"}
	],
	"stream": true
}`
	chatStreamPromptWords = 10

	// llm-v1-completions/requests/good.json and bad_request.json.
	completionsGoodRequest = `{
	"prompt": "Who are you?"
}`
	completionsBadRequest = `{
	"tmorpp": "a misspelt prompt"
}`
)

// Upstream answers (the responses/ fixtures).
const (
	chatGoodID      = "chatcmpl-replay0000000000000001"
	chatGoodModel   = "gpt-3.5-turbo-0613"
	chatGoodContent = "2 + 2 makes 4."
	// The usage figures of Kong's fixture: 25 + 12 tokens cost 0.00037 at
	// 10 per million each.
	chatGoodResponse = `{
  "choices": [
      {
          "finish_reason": "stop",
          "index": 0,
          "message": {
              "content": "2 + 2 makes 4.",
              "role": "assistant"
          }
      }
  ],
  "created": 1764547200,
  "id": "chatcmpl-replay0000000000000001",
  "model": "gpt-3.5-turbo-0613",
  "object": "chat.completion",
  "system_fingerprint": null,
  "usage": {
      "completion_tokens": 12,
      "prompt_tokens": 25,
      "total_tokens": 37
  }
}`

	// bad_upstream_response.json: a 200 JSON answer without "choices".
	chatNoChoicesResponse = `{
  "unrelated": {
    "words": ["nothing", "to", "see"]
  }
}`

	chatBadRequestResponse = `{
    "error": {
        "code": null,
        "message": "'messages' is a required property",
        "param": null,
        "type": "invalid_request_error"
    }
}`

	unauthorizedResponse = `{
  "error": {
      "code": "invalid_api_key",
      "message": "Incorrect API key provided. This answer comes from the replay mock.",
      "param": null,
      "type": "invalid_request_error"
  }
}`

	internalErrorHTML = `<!DOCTYPE html>
<html><head><title>Mock failure</title></head>
<body><p>The replay mock failed on purpose.</p></body></html>
`

	completionsGoodID   = "cmpl-replay0000000000000001"
	completionsModel    = "gpt-3.5-turbo-instruct"
	completionsGoodText = "\n\nI am a model that completes text."
	completionsResponse = `{
  "choices": [
      {
          "finish_reason": "length",
          "index": 0,
          "logprobs": null,
          "text": "\n\nI am a model that completes text."
      }
  ],
  "created": 1764547200,
  "id": "cmpl-replay0000000000000001",
  "model": "gpt-3.5-turbo-instruct",
  "object": "text_completion",
  "usage": {
      "completion_tokens": 9,
      "prompt_tokens": 3,
      "total_tokens": 12
  }
}`

	completionsBadRequestResponse = `{
    "error": {
        "code": null,
        "message": "you must provide a 'prompt' parameter",
        "param": null,
        "type": "invalid_request_error"
    }
}`

	// llm-v1-embeddings/responses/good.json: the model answering differs
	// from the one asked for.
	embeddingsInput    = "The soup was warm and the bread fresh"
	embeddingsModel    = "text-embedding-ada-002"
	embeddingsAnswered = "text-embedding-3-large"
	embeddingsResponse = `{
  "object": "list",
  "data": [
    {"object": "embedding", "index": 0, "embedding": [0.0125, -0.5, 0.25, 0.0625]}
  ],
  "model": "text-embedding-3-large",
  "usage": {"prompt_tokens": 8, "total_tokens": 8}
}`
)

// streamWrites are the writes of the 09-streaming mock's good answer:
// eight events (six content chunks, the finish chunk and [DONE]) in six
// writes, two of which carry two events. Kong's mock sends no usage chunk.
var streamWrites = []string{
	streamChunk(`{"content": "", "role": "assistant"}`, "null"),
	streamChunk(`{"content": "One "}`, "null") + streamChunk(`{"content": "plus "}`, "null"),
	streamChunk(`{"content": "one "}`, "null"),
	streamChunk(`{"content": "makes "}`, "null") + streamChunk(`{"content": "two."}`, "null"),
	streamChunk(`{}`, `"stop"`),
	"data: [DONE]\n\n",
}

const (
	streamAnswer = "One plus one makes two."
	streamModel  = "gpt-4-0613"
	streamEvents = 8
)

// streamChunk is one OpenAI chat chunk event, spaced as Kong's mock
// writes them.
func streamChunk(delta, finish string) string {
	return `data: {    "choices": [        {            "delta": ` + delta + `,            "finish_reason": ` + finish +
		`,            "index": 0,            "logprobs": null        }    ],    "created": 1764547200,    "id": "chatcmpl-replaystream0000000001",    "model": "gpt-4-0613",    "object": "chat.completion.chunk",    "system_fingerprint": null}` + "\n\n"
}

// partialWrites is the same answer with the third content event cut in two
// writes, mid-string, as the spec's "partial" mock sends it.
func partialWrites() []string {
	var out []string
	for i, w := range streamWrites {
		if i == 2 {
			cut := len(w) / 2
			out = append(out, w[:cut], w[cut:])
			continue
		}
		out = append(out, w)
	}
	return out
}

// The 08-encoding stencils: a good answer, a 200 without "choices", and
// two errors, each sent gzip-compressed.
const (
	encGoodResponse        = `{"choices":[{"finish_reason":"stop","index":0,"message":{"role":"assistant","content":"Zero has no inverse."}}],"created":1764547200,"id":"chatcmpl-replayenc000000000001","model":"gpt-4-0613","object":"chat.completion","usage":{"completion_tokens":5,"prompt_tokens":13,"total_tokens":18}}`
	encFaultyResponse      = `{"what_you_asked":{"was_not":"answered, yet the status is 200"}}`
	encUnauthorized        = `{"error":{"message":"wrong API key"}}`
	encError               = `{"error":{"message":"something failed"}}`
	encErrorFaulty         = `{"odd_message":{"odd_error":{"detail":"a failure in an unusual shape"}}}`
	encUserRequest         = `{"messages":[{"role":"system","content":"You are a mathematician."},{"role":"user","content":"Why is there no inverse of zero?"}]}`
	encTransformationError = "transformation failed from type openai://llm/v1/chat: 'choices' not in llm/v1/chat response"
)

// The 01-unit real-stream-frames: one chat chunk and one completions
// chunk, each carrying "the answer".
const (
	unitChatFrame        = `data: {"choices": [{"delta": {"content": "the answer"},"finish_reason": null,"index": 0,"logprobs": null}],"created": 1764547200,"id": "chatcmpl-replayunit00000001","model": "gpt-4-0613","object": "chat.completion.chunk","system_fingerprint": null}` + "\n\n"
	unitCompletionsFrame = `data: {"choices": [{"finish_reason": null,"index": 0,"logprobs": null,"text": "the answer"}],"created": 1764547200,"id": "cmpl-replayunit00000001","model": "gpt-3.5-turbo-instruct","object": "text_completion"}` + "\n\n"
)

// The 01-unit requests: a conversation of six messages, and a prompt.
const (
	unitChatRequest = `{
	"messages": [
		{"role": "system", "content": "You are a mathematician."},
		{"role": "user", "content": "What is 2 + 3?"},
		{"role": "assistant", "content": "2 + 3 is 5."},
		{"role": "user", "content": "Double it"},
		{"role": "assistant", "content": "Doubled, 5 is 10."},
		{"role": "user", "content": "Why is there no inverse of zero?"}
	]
}`
	unitCompletionsRequest = `{
	"prompt": "Explain why zero has no inverse."
}`
	// SAMPLE_LLM_V1_CHAT_WITH_SOME_OPTS: sampling options and extra
	// members.
	unitChatWithOptions = `{
	"messages": [
		{"role": "system", "content": "You are a mathematician."},
		{"role": "assistant", "content": "What is 1 + 1?"}
	],
	"max_tokens": 256,
	"temperature": 0.1,
	"top_p": 0.2,
	"some_extra_param": "string_val",
	"another_extra_param": 0.5
}`
	// SAMPLE_DOUBLE_FORMAT: messages and a prompt.
	unitDoubleFormat = `{
	"messages": [
		{"role": "system", "content": "You are a mathematician."},
		{"role": "assistant", "content": "What is 1 + 1?"}
	],
	"prompt": "Hi world"
}`
)
