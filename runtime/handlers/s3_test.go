package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestS3RequestValidationNamesField(t *testing.T) {
	for _, c := range []struct {
		payload string
		put     bool
		want    string
	}{
		{`{"key":"k"}`, false, "bucket"},
		{`{"bucket":"b"}`, false, "key"},
		{`{"bucket":"b","key":"k"}`, true, "bytes"},
		{`{"bucket":"b","key":"k","bytes":5}`, false, "bytes"},
		{`{"bucket":"b","key":"k","part_mb":2}`, false, "part_mb"},
		{`{"bucket":"b","key":"k","size":2}`, false, "size"},
	} {
		_, err := parseS3Request("s3get", s3GetWant, []byte(c.payload), c.put)
		if !errors.Is(err, ErrInvalidPayload) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want InvalidPayload naming %s", c.payload, err, c.want)
		}
	}
}

// The put source is seekable, exact in size and counts each byte once however often the
// SDK re-reads it (checksums, retries).
func TestTextSourceCountsOnce(t *testing.T) {
	src := newTextSource(2_500_000, time.Now())
	first, _ := io.ReadAll(src)
	records, words := src.cnt.records, src.cnt.words
	src.Seek(0, io.SeekStart)
	second, _ := io.ReadAll(src)
	if len(first) != 2_500_000 || !bytes.Equal(first, second) {
		t.Fatalf("len %d, re-read equal %v", len(first), bytes.Equal(first, second))
	}
	var c textCounter
	c.Write(first)
	if src.cnt.records != records || records != c.records || words != c.words {
		t.Fatalf("counted %d/%d then %d/%d, direct %d/%d", records, words, src.cnt.records, src.cnt.words, c.records, c.words)
	}
}

func TestTextCounterAcrossChunks(t *testing.T) {
	var c textCounter
	for _, chunk := range []string{"hello wo", "rld\nfoo", " bar\n"} {
		c.Write([]byte(chunk))
	}
	if c.records != 2 || c.words != 4 {
		t.Fatalf("records %d words %d, want 2 and 4", c.records, c.words)
	}
}

// The Go counter (s3get) and the boto3 script (s3get-boto3, Python's bytes.split) count
// the same words: \v and \f separate words in both.
func TestTextCounterMatchesPythonSplit(t *testing.T) {
	text := []byte("a\vb\fc d\r\ne\u00a0f\tg\n")
	var c textCounter
	c.Write(text)
	if c.words != 6 || c.records != 2 { // NBSP is not ASCII space: "e\u00a0f" is one word
		t.Errorf("words %d records %d, want 6 and 2", c.words, c.records)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skipf("no python3 to compare with: %v", err)
	}
	cmd := exec.Command(py, "-c", "import sys; d = sys.stdin.buffer.read(); print(len(d.split()), d.count(b'\\n'))")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d %d", c.words, c.records); strings.TrimSpace(string(out)) != want {
		t.Errorf("python counts %q, Go %q", strings.TrimSpace(string(out)), want)
	}
}

// Both S3 clients' failures become one error shape; a code S3 did not send is named from
// the status (botocore reports a HEAD's 403 as the code "403", the Go SDK as no code).
func TestS3ErrorNamesTheCode(t *testing.T) {
	req := S3Request{Bucket: "b", Key: "k"}
	for _, c := range []struct {
		code   string
		status int
		want   string
	}{
		{"", 403, "AccessDenied"}, {"403", 403, "AccessDenied"}, {"S3Error", 403, "AccessDenied"},
		{"404", 404, "NotFound"}, {"", 500, "S3Error"}, {"NoSuchKey", 404, "NoSuchKey"},
		{"SignatureDoesNotMatch", 403, "SignatureDoesNotMatch"},
	} {
		err := s3Error("s3get", "get", req, c.code, c.status, "detail")
		var he *handlerError
		if !errors.As(err, &he) || he.errorType != c.want || !errors.Is(err, ErrS3) || !strings.Contains(err.Error(), "GET s3://b/k") {
			t.Errorf("code %q status %d: %v (%+v), want errorType %s", c.code, c.status, err, he, c.want)
		}
	}
	if err := s3Error("s3get-boto3", "get", req, "NoSuchBucket", 404, "x"); !strings.Contains(err.Error(), `bucket "b" does not exist`) {
		t.Errorf("NoSuchBucket: %v", err)
	}
}
