package target

import (
	"errors"
	"testing"
)

// Daemons given with --endpoint cannot be restarted with another CPU model: a spec that
// needs two is refused before anything runs.
func TestEndpointFleetAcceptsOneConfiguration(t *testing.T) {
	f := &EndpointFleet{Endpoints: []string{"http://127.0.0.1:1"}}
	paper := HostConfig{Profile: "c3.large", Backend: "native", CPUModel: "paper"}
	lambda := paper
	lambda.CPUModel = "lambda"
	if err := f.Accepts([]HostConfig{paper, paper}); err != nil {
		t.Errorf("one configuration refused: %v", err)
	}
	if err := f.Accepts([]HostConfig{paper, lambda}); !errors.Is(err, ErrConfig) {
		t.Errorf("two CPU models: got %v, want ErrConfig", err)
	}
	if err := (&LocalFleet{}).Accepts([]HostConfig{paper, lambda}); err != nil {
		t.Errorf("the private daemon restarts: %v", err)
	}
}
