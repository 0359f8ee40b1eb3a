package main

import "testing"

func TestNewBodyGate(t *testing.T) {
	for v, ok := range map[string]bool{"": true, "8": true, "0": false, "-1": false, "lots": false} {
		_, err := newBodyGate(func(string) string { return v })
		if (err == nil) != ok {
			t.Errorf("%s=%q: error %v", envMaxBodyReads, v, err)
		}
	}
}
