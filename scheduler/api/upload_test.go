package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestZipStreamDivertsOnlyTheTarget: the ZipFile at Code.ZipFile goes to the file; keys
// named ZipFile elsewhere, and the text "ZipFile" inside strings, pass through.
func TestZipStreamDivertsOnlyTheTarget(t *testing.T) {
	zip := []byte("PK\x03\x04 pretend zip \xff\xfe/+?")
	b64 := base64.StdEncoding.EncodeToString(zip)
	escaped := strings.ReplaceAll(b64, "/", `\/`) // some encoders escape slashes
	doc := `{"Description":"a \"ZipFile\":\"x\" text","Environment":{"Variables":{"ZipFile":"keep"}},` +
		`"Layers":["ZipFile"],"Code" : { "S3Key":"", "ZipFile" : "` + escaped + `" },"FunctionName":"f"}`
	var out bytes.Buffer
	zs := newZipStream(strings.NewReader(doc), &out, "Code", "ZipFile")
	var req createFunctionRequest
	if err := json.NewDecoder(zs).Decode(&req); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), zip) {
		t.Errorf("diverted %q, want %q", out.Bytes(), zip)
	}
	if req.FunctionName != "f" || req.Description != `a "ZipFile":"x" text` || req.Environment.Variables["ZipFile"] != "keep" ||
		len(req.Layers) != 1 || len(req.Code.ZipFile) != 0 {
		t.Errorf("the rest of the document changed: %+v", req)
	}
}

func TestZipStreamErrors(t *testing.T) {
	for _, c := range []struct {
		name, value string
		want        error
	}{
		{"not base64", "!!!!", errZipBase64},
		{"data after padding", "QQ==QQ==", errZipBase64},
		{"other escape", `QU\nJD`, errZipEscape},
	} {
		zs := newZipStream(strings.NewReader(`{"ZipFile":"`+c.value+`"}`), io.Discard, "ZipFile")
		var v map[string]any
		err := json.NewDecoder(zs).Decode(&v)
		if !errors.Is(err, c.want) || !errors.Is(zs.err, c.want) {
			t.Errorf("%s: %v (recorded %v), want %v", c.name, err, zs.err, c.want)
		}
	}
}
