package main

import (
	"fmt"
	"net/http"
)

// Temporary until pkg/edge lands.
func serveLambda(h http.Handler) error { return fmt.Errorf("lambda edge not wired yet") }
