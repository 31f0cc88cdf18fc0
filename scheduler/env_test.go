package scheduler

import (
	"strings"
	"testing"
)

// The scheduler refuses exactly the variables the runtime would not pass on: a variable it
// accepts reaches the function (TZ included, as on Lambda), a reserved one is an error.
func TestEnvironmentValidationMatchesRuntime(t *testing.T) {
	if err := validateEnvironment(map[string]string{"TZ": "Europe/Paris", "PATH": "/x", "MY_VAR": "1"}); err != nil {
		t.Errorf("TZ, PATH and MY_VAR refused: %v", err)
	}
	err := validateEnvironment(map[string]string{"AWS_REGION": "eu-west-1", "AWS_SESSION_TOKEN": "x"})
	if err == nil || !strings.Contains(err.Error(), "Reserved keys used in this request: AWS_REGION, AWS_SESSION_TOKEN") {
		t.Errorf("reserved keys: %v", err)
	}
}
