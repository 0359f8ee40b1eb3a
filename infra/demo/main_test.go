package main

import (
	"bytes"
	"strings"
	"testing"
)

// The demo talks only to the address its own proxy logged as bound.
func TestWatchListening(t *testing.T) {
	tests := []struct {
		name, log, want string
	}{
		{"listening line", "aiproxy: listening on x\n{\"msg\":\"config loaded\"}\n{\"level\":\"INFO\",\"msg\":\"listening\",\"addr\":\"http://127.0.0.1:41234\"}\n", "http://127.0.0.1:41234"},
		{"exited before listening", "aiproxy: listen on 127.0.0.1:8080: address already in use\n", ""},
		{"a request line is not listening", "{\"msg\":\"request\",\"addr\":\"http://evil\"}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var copied bytes.Buffer
			addrc := make(chan string, 1)
			watchListening(strings.NewReader(tt.log), &copied, addrc)
			if got := <-addrc; got != tt.want {
				t.Errorf("addr = %q, want %q", got, tt.want)
			}
			if copied.String() != tt.log {
				t.Errorf("log not copied whole: %q", copied.String())
			}
		})
	}
}
