package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/experiments/services/dataset"
	"github.com/faaslab/faaslab/internal/testutil"
)

// bootstrapZip is a custom-runtime deployment package: the program at path as "bootstrap".
func bootstrapZip(t *testing.T, path string) []byte {
	t.Helper()
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bin)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestE2EWrongCredentialsInSandbox: an aws-sdk-go-v2 client inside a real sandbox, through
// the emulated NIC and HTTPS to the embedded store, gets HTTP 403 with wrong credentials
// (a wrong secret, an unknown key id) and 200 with the execution role's from its
// environment — so the 403 is the credentials', not the path's.
func TestE2EWrongCredentialsInSandbox(t *testing.T) {
	skipHeavy(t, "the S3 store and a custom runtime")
	d := launchDaemon(t)
	set, err := d.client.EnsureDataSet(context.Background(), "10mb", 1)
	if err != nil || len(set.Objects) != 1 {
		t.Fatalf("data: %+v %v", set, err)
	}
	key := set.Objects[0].Key
	boot := testutil.Binary(t, testutil.Module+"/experiments/services/testdata/s3badcreds")
	d.createFunction("s3badcreds", map[string]any{"Runtime": "provided.al2023", "Handler": "bootstrap",
		"MemorySize": 1024, "Timeout": 60, "Code": map[string]any{"ZipFile": bootstrapZip(t, boot)}})
	type reply struct {
		Status   int
		Code     string
		Bytes    int64
		Endpoint string
	}
	get := func(access, secret string) reply {
		t.Helper()
		ev, _ := json.Marshal(map[string]string{"bucket": dataset.DefaultBucket, "key": key, "access_key": access, "secret_key": secret})
		res := d.invoke("s3badcreds", string(ev))
		var out reply
		if res.FunctionError != "" || json.Unmarshal(res.Payload, &out) != nil {
			t.Fatalf("s3badcreds %q: function error %s: %s\n%s", access, res.FunctionError, res.Payload, res.LogTail)
		}
		return out
	}
	if ok := get("", ""); ok.Status != 200 || ok.Bytes != set.Objects[0].Bytes || !strings.HasPrefix(ok.Endpoint, "https://") {
		t.Fatalf("environment's credentials: %+v, want 200 and %d bytes over https", ok, set.Objects[0].Bytes)
	}
	denied := map[string]bool{"AccessDenied": true, "SignatureDoesNotMatch": true, "InvalidAccessKeyId": true}
	for _, c := range []struct{ name, access, secret string }{
		{"wrong secret", "faaslab", "wrong-secret"},
		{"unknown key id", "no-such-key-id", "faaslab-secret-key"},
	} {
		out := get(c.access, c.secret)
		t.Logf("%s from inside the sandbox: HTTP %d %s", c.name, out.Status, out.Code)
		if out.Status != 403 || !denied[out.Code] {
			t.Errorf("%s: HTTP %d %q, want 403 AccessDenied, SignatureDoesNotMatch or InvalidAccessKeyId", c.name, out.Status, out.Code)
		}
	}
}
