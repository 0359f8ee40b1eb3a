// Streams a chat completion with tools through the proxy and prints the
// message the openai package's own accumulator (chat.completions.stream,
// finalChatCompletion) reassembled from the chunks, as JSON on stdout.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: "client-key", maxRetries: 0 });
const fn = (name) => ({ type: "function", function: { name, parameters: { type: "object", properties: {} } } });
const stream = client.chat.completions.stream({
  model: process.env.MODEL,
  messages: [{ role: "user", content: "weather and time in Paris?" }],
  tools: [fn("get_weather"), fn("get_time")],
});
const final = await stream.finalChatCompletion();
process.stdout.write(JSON.stringify({ message: final.choices[0].message, finish_reason: final.choices[0].finish_reason }));
