package runtime

import (
	"slices"
	"testing"
)

// Platform variables (the store's credentials) reach the sandbox; a user variable may
// replace a non-reserved one (the endpoint) but never a credential.
func TestEnvironmentPlatformVariables(t *testing.T) {
	env := Environment(EnvConfig{FunctionName: "f",
		Platform: map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_ENDPOINT_URL_S3": "https://store"},
		User:     map[string]string{"AWS_ACCESS_KEY_ID": "mine", "AWS_ENDPOINT_URL_S3": "https://other"}})
	if !slices.Contains(env, "AWS_ACCESS_KEY_ID=k") || slices.Contains(env, "AWS_ACCESS_KEY_ID=mine") {
		t.Errorf("credential not the platform's: %v", env)
	}
	if !slices.Contains(env, "AWS_ENDPOINT_URL_S3=https://other") || slices.Contains(env, "AWS_ENDPOINT_URL_S3=https://store") {
		t.Errorf("user endpoint did not win: %v", env)
	}
}
