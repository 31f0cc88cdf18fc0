package netapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/netshape"
	"github.com/faaslab/faaslab/netshape/shape"
)

func TestSampleDocumentIsSnakeCaseAndComplete(t *testing.T) {
	s := netshape.Sample{Time: time.Unix(5, 0), Uplink: netshape.Traffic{UploadBytes: 7},
		Sandboxes: map[string]netshape.SandboxTraffic{"sb1": {SandboxID: "sb1", Function: "f", HostVeth: "v1",
			Traffic: netshape.Traffic{UploadBytes: 3, DownloadBytes: 4, UploadPackets: 1, DownloadPackets: 2}}}}
	classes := []shape.ClassStat{{Direction: shape.Upload, ClassID: 1<<16 | 0x10, Kind: shape.KindMember, SandboxID: "sb1", SentBytes: 9}}
	doc := SampleDocument(s, classes)
	if doc.Uplink.UploadBytes != 7 || doc.Sandboxes["sb1"].DownloadBytes != 4 || doc.Sandboxes["sb1"].HostVeth != "v1" {
		t.Errorf("sample %+v", doc)
	}
	if len(doc.Classes) != 1 || doc.Classes[0].ClassID != "1:10" || doc.Classes[0].Direction != "upload" || doc.Classes[0].SentBytes != 9 {
		t.Errorf("classes %+v", doc.Classes)
	}
}

func TestPolicyHandlersWithoutShaperAnswer503(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux, Deps{Sample: func() (netshape.Sample, error) { return netshape.Sample{}, nil }, Shaper: func() *shape.Shaper { return nil }})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := client.New(srv.URL)
	if _, err := c.Policy(t.Context()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("GET policy without a shaper: %v", err)
	}
	if _, err := c.SetPolicy(t.Context(), client.PolicyDocument{Policy: "equal"}); err == nil || !strings.Contains(err.Error(), ErrNoShaper.Error()) {
		t.Errorf("PUT policy without a shaper: %v", err)
	}
	if s, err := c.NetworkSample(t.Context()); err != nil || s.Sandboxes == nil {
		t.Errorf("sample = %+v, %v", s, err)
	}
}
