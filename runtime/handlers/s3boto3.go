package handlers

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/faaslab/faaslab/runtime"
)

// boto3Script is the Python side of s3get-boto3 / s3put-boto3.
//
//go:embed s3_boto3.py
var boto3Script string

// ErrNoPython: the sandbox has no python3 with boto3 (the docker backend's FROM-scratch
// image has neither; native sandboxes see the host's /usr read-only).
var ErrNoPython = errors.New("python3 with boto3 is not available in this sandbox")

const pythonWaitDelay = 2 * time.Second

// S3GetBoto3 is s3get with the paper's client stack: python3 + boto3 in the sandbox.
func S3GetBoto3(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := parseS3Request("s3get-boto3", s3GetWant, payload, false)
	if err != nil {
		return nil, err
	}
	return runBoto3(ctx, "s3get-boto3", "get", req, "")
}

// S3PutBoto3 is s3put with python3 + boto3.
func S3PutBoto3(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := parseS3Request("s3put-boto3", s3PutWant, payload, true)
	if err != nil {
		return nil, err
	}
	block := filepath.Join(os.TempDir(), "faaslab-text-block")
	if _, err := os.Stat(block); err != nil {
		if err := os.WriteFile(block, textBlock(), 0o600); err != nil {
			return nil, fmt.Errorf("s3put-boto3: write the text block: %w", err)
		}
	}
	return runBoto3(ctx, "s3put-boto3", "put", req, block)
}

type boto3Result struct {
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
	TTFBSeconds float64 `json:"ttfb_seconds"`
	Records     int64   `json:"records"`
	Words       int64   `json:"words"`
	Error       string  `json:"error"`
	Code        string  `json:"code"`
	Status      int     `json:"status"`
}

// runBoto3 runs the script once; the measured window (CPU, throttling, seconds) is the
// whole python process, interpreter start and imports included, as a Lambda cold
// handler would pay them. Seconds and TTFB are the script's own (transfer only).
func runBoto3(ctx context.Context, handler, op string, req S3Request, blockFile string) ([]byte, error) {
	py, err := findTool("python3")
	if err != nil {
		return nil, &handlerError{errorType: runtime.ErrorTypeNoPython, sentinel: ErrNoPython,
			msg: fmt.Sprintf("%s: %v: %v (on --backend docker the FROM-scratch runtime image has no Python: use s3get/s3put, or a function image with python3-boto3)", handler, ErrNoPython, err)}
	}
	in, _ := json.Marshal(map[string]any{"op": op, "bucket": req.Bucket, "key": req.Key, "bytes": req.Bytes,
		"part_mb": req.PartMB, "block_file": blockFile})
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, py, "-c", boto3Script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, &stderr
	cmd.WaitDelay = pythonWaitDelay
	m := startMeasure()
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, interrupted(handler, ctx.Err())
	}
	var res boto3Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "No module named 'boto3'") {
			return nil, &handlerError{errorType: runtime.ErrorTypeNoPython, sentinel: ErrNoPython,
				msg: fmt.Sprintf("%s: %v (install python3-boto3 on the host)", handler, ErrNoPython)}
		}
		return nil, fmt.Errorf("%s: python3 failed (%v): %s", handler, runErr, tail(msg, 2000))
	}
	if res.Error != "" {
		return nil, s3Error(handler, op, req, res.Code, res.Status, res.Error)
	}
	out := S3Response{Bucket: req.Bucket, Key: req.Key, Bytes: res.Bytes}
	m.finish(&out)
	out.Seconds, out.TTFBSeconds, out.Records, out.Words = res.Seconds, res.TTFBSeconds, res.Records, res.Words
	if out.Seconds > 0 {
		out.MBPerSec = float64(out.Bytes) / mb / out.Seconds
	}
	return json.Marshal(out)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
