package handlers

import (
	"bytes"
	"errors"
	"io"
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
