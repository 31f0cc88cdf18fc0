package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/faaslab/faaslab/client"
)

// tokenOption makes a client send the token in path ("" = none). An unreadable file is
// reported by the first request's 401 rather than here, so commands stay one-liners.
func tokenOption(path string) client.Option {
	if path == "" {
		return func(*client.Client) {}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "faaslab: --token-file: %v\n", err)
		return func(*client.Client) {}
	}
	return client.WithBearerToken(strings.TrimSpace(string(b)))
}
