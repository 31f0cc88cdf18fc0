package daemon

import (
	"strings"
	"testing"

	"github.com/faaslab/faaslab/netshape/netapi"
	"github.com/faaslab/faaslab/netshape/shape"
)

func TestPolicyConfigNICQueue(t *testing.T) {
	p, err := shape.ParsePolicyConfig(DefaultConfig().Network.policySpec(), 560e6)
	if err != nil || p.NICQueue != shape.NICQueueFair {
		t.Errorf("default: %+v %v (want nic_queue fair)", p, err)
	}
	p, err = shape.ParsePolicyConfig(NetworkConfig{Policy: "none", NICQueue: "FIFO"}.policySpec(), 560e6)
	if err != nil || p.NICQueue != shape.NICQueueFIFO {
		t.Errorf("fifo: %+v %v", p, err)
	}
	_, err = shape.ParsePolicyConfig(NetworkConfig{Policy: "none", NICQueue: "red"}.policySpec(), 560e6)
	if err == nil || !strings.Contains(err.Error(), "nic_queue") || !strings.Contains(err.Error(), `"red"`) {
		t.Errorf("bad queue: %v (want the field and the value named)", err)
	}
	doc := netapi.PolicyDocument(shape.PolicyConfig{Name: "none", NICBitsPerSec: 560e6, NICQueue: "flowhash"})
	if doc.NICQueue != "flowhash" {
		t.Errorf("policy document: %+v", doc)
	}
	if doc := netapi.PolicyDocument(shape.PolicyConfig{Name: "equal", NICBitsPerSec: 560e6, NICQueue: "fair"}); doc.NICQueue != "" {
		t.Errorf("equal has no NIC queue model: %+v", doc)
	}
}
