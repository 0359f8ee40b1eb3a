package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// configFileEnv is where the bootstrap reads a configuration file from.
const configFileEnv = "AIPROXY_CONFIG_FILE"

// UpstreamConfig is a bare ai-proxy plugin config that sends every chat
// completion to upstream's /v1/chat/completions with a fixed key: enough
// for the stub upstream, and the same shape the emulator tests use. JSON is
// YAML, so the bootstrap reads it as its configuration document.
func UpstreamConfig(upstream, apiKey string) ([]byte, error) {
	cfg := map[string]any{
		"route_type": "llm/v1/chat",
		"auth": map[string]any{
			"header_name":  "Authorization",
			"header_value": "Bearer " + apiKey,
		},
		"logging": map[string]any{"log_statistics": true},
		"model": map[string]any{
			"provider": "openai",
			"name":     "$(uri_captures.model)",
			"options": map[string]any{
				"upstream_url": strings.TrimRight(upstream, "/") + "/v1/chat/completions",
			},
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode upstream config: %w", err)
	}
	return b, nil
}

// writeUpstreamConfig writes UpstreamConfig to a temporary file.
func writeUpstreamConfig(upstream, apiKey string) (path string, cleanup func(), err error) {
	b, err := UpstreamConfig(upstream, apiKey)
	if err != nil {
		return "", nil, err
	}
	f, err := os.CreateTemp("", "aiproxy-invoke-*.json")
	if err != nil {
		return "", nil, fmt.Errorf("write upstream config: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", nil, fmt.Errorf("write upstream config: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", nil, fmt.Errorf("write upstream config: %w", err)
	}
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}
