package main

import (
	"strings"
	"testing"
)

// Lambda refuses a payload that is not JSON: `fn invoke` says so, naming the flag, before
// calling the daemon (none listens at the endpoint given).
func TestFnInvokeRefusesNonJSONPayload(t *testing.T) {
	_, err := runCLI(t, "fn", "invoke", "hello", "--payload", "plain text", "--endpoint", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), `--payload "plain text" is not JSON`) {
		t.Errorf("plain-text --payload: %v; want an error naming --payload and saying it is not JSON", err)
	}
}
