package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/faaslab/faaslab/experiments/services/dataset"
)

// ErrS3: the object store answered with an error (errorType is S3's code: NoSuchKey,
// NoSuchBucket, AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, ...).
var ErrS3 = errors.New("s3 request failed")

// readBufBytes is the body read size: a data function reads and processes in chunks.
const readBufBytes = 256 << 10

// s3Clients caches the SDK client across warm invocations, as a Lambda function creates
// it outside its handler. Credentials, endpoint and CA come from the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ENDPOINT_URL_S3,
// AWS_CA_BUNDLE, AWS_REGION), which the daemon sets.
var s3Clients struct {
	sync.Mutex
	c *s3.Client
}

func s3Client(ctx context.Context) (*s3.Client, error) {
	s3Clients.Lock()
	defer s3Clients.Unlock()
	if s3Clients.c != nil {
		return s3Clients.c, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config from the environment: %w", err)
	}
	// Path-style: the embedded store has no wildcard DNS for virtual-hosted buckets.
	s3Clients.c = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	return s3Clients.c, nil
}

// beginS3 parses an S3 handler's payload and gets the shared client; out names the object.
func beginS3(ctx context.Context, handler, want string, payload []byte, put bool) (S3Request, *s3.Client, S3Response, error) {
	req, err := parseS3Request(handler, want, payload, put)
	if err != nil {
		return req, nil, S3Response{}, err
	}
	cl, err := s3Client(ctx)
	return req, cl, S3Response{Bucket: req.Bucket, Key: req.Key}, err
}

// S3Get downloads {"bucket","key"} with aws-sdk-go-v2, streaming, counting records and
// words of the body as it arrives; with part_mb it fetches ranges of that size in turn.
func S3Get(ctx context.Context, payload []byte) ([]byte, error) {
	req, cl, out, err := beginS3(ctx, "s3get", s3GetWant, payload, false)
	if err != nil {
		return nil, err
	}
	var cnt textCounter
	m := startMeasure()
	var ttfb time.Duration
	if req.PartMB == 0 {
		out.Bytes, ttfb, err = getRange(ctx, cl, req, "", &cnt, m.start)
	} else {
		out.Bytes, ttfb, err = getParts(ctx, cl, req, &cnt, m.start)
	}
	if err != nil {
		return nil, s3Failure("s3get", "GET", req, ctx, err)
	}
	m.finish(&out)
	out.TTFBSeconds, out.Records, out.Words = ttfb.Seconds(), cnt.records, cnt.words
	return json.Marshal(out)
}

// getRange GETs the object (or a byte range of it) into cnt; ttfb is from start to the
// first body byte of this request.
func getRange(ctx context.Context, cl *s3.Client, req S3Request, rng string, cnt *textCounter, start time.Time) (n int64, ttfb time.Duration, err error) {
	in := &s3.GetObjectInput{Bucket: aws.String(req.Bucket), Key: aws.String(req.Key)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	resp, err := cl.GetObject(ctx, in)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	buf := make([]byte, readBufBytes)
	for {
		k, rerr := resp.Body.Read(buf)
		if k > 0 && n == 0 {
			ttfb = time.Since(start)
		}
		n += int64(k)
		cnt.Write(buf[:k])
		if rerr == io.EOF {
			return n, ttfb, nil
		}
		if rerr != nil {
			return n, ttfb, rerr
		}
	}
}

func getParts(ctx context.Context, cl *s3.Client, req S3Request, cnt *textCounter, start time.Time) (int64, time.Duration, error) {
	head, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(req.Bucket), Key: aws.String(req.Key)})
	if err != nil {
		return 0, 0, err
	}
	size, part := aws.ToInt64(head.ContentLength), int64(req.PartMB)*mb
	var total int64
	var first time.Duration
	for off := int64(0); off < size; off += part {
		end := min(off+part, size) - 1
		n, ttfb, err := getRange(ctx, cl, req, fmt.Sprintf("bytes=%d-%d", off, end), cnt, start)
		total += n
		if off == 0 {
			first = ttfb
		}
		if err != nil {
			return total, first, err
		}
	}
	return total, first, nil
}

// S3Put uploads {"bytes"} of generated review text to {"bucket","key"} with
// aws-sdk-go-v2, counting records and words of what it sends; with part_mb as a
// multipart upload of that part size. ttfb_seconds is the time until the SDK read the
// first body byte (connection and headers done).
func S3Put(ctx context.Context, payload []byte) ([]byte, error) {
	req, cl, out, err := beginS3(ctx, "s3put", s3PutWant, payload, true)
	if err != nil {
		return nil, err
	}
	m := startMeasure()
	src := newTextSource(req.Bytes, m.start)
	if req.PartMB == 0 {
		_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(req.Bucket), Key: aws.String(req.Key),
			Body: src, ContentLength: aws.Int64(req.Bytes)})
	} else {
		err = putParts(ctx, cl, req, src)
	}
	if err != nil {
		return nil, s3Failure("s3put", "PUT", req, ctx, err)
	}
	out.Bytes = req.Bytes
	m.finish(&out)
	out.TTFBSeconds, out.Records, out.Words = src.ttfb.Seconds(), src.cnt.records, src.cnt.words
	return json.Marshal(out)
}

func putParts(ctx context.Context, cl *s3.Client, req S3Request, src *textSource) error {
	up, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(req.Bucket), Key: aws.String(req.Key)})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	part := int64(req.PartMB) * mb
	for off, num := int64(0), int32(1); off < req.Bytes; off, num = off+part, num+1 {
		n := min(part, req.Bytes-off)
		res, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(req.Bucket), Key: aws.String(req.Key),
			UploadId: up.UploadId, PartNumber: aws.Int32(num), Body: io.NewSectionReader(src, off, n), ContentLength: aws.Int64(n)})
		if err != nil {
			cl.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: aws.String(req.Bucket), Key: aws.String(req.Key), UploadId: up.UploadId})
			return err
		}
		parts = append(parts, types.CompletedPart{ETag: res.ETag, PartNumber: aws.Int32(num),
			ChecksumCRC32: res.ChecksumCRC32, ChecksumCRC32C: res.ChecksumCRC32C, ChecksumCRC64NVME: res.ChecksumCRC64NVME,
			ChecksumSHA1: res.ChecksumSHA1, ChecksumSHA256: res.ChecksumSHA256})
	}
	_, err = cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(req.Bucket), Key: aws.String(req.Key),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// s3Failure turns an SDK error into a function error whose errorType is S3's error code
// and whose message names the object, the code and the HTTP status.
func s3Failure(handler, op string, req S3Request, ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return interrupted(handler, err)
	}
	code, status := "S3Error", 0
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return s3Error(handler, op, req, code, status, err.Error())
}

// s3Error is the function error of a failed S3 call, whichever client made it (the Go
// SDK or the boto3 script): its errorType is S3's error code, its message names the
// object, the code and the HTTP status. A code S3 did not send (a HEAD has no body, so
// SDKs report "S3Error" or the bare status) is named from the status.
func s3Error(handler, op string, req S3Request, code string, status int, detail string) error {
	if code == "" || code == "S3Error" || code == strconv.Itoa(status) {
		switch status {
		case http.StatusForbidden:
			code = "AccessDenied"
		case http.StatusNotFound:
			code = "NotFound"
		default:
			code = "S3Error"
		}
	}
	op = strings.ToUpper(op)
	msg := fmt.Sprintf("%s: %s s3://%s/%s: %s (HTTP %d): %s", handler, op, req.Bucket, req.Key, code, status, detail)
	if code == "NoSuchBucket" {
		msg = fmt.Sprintf("%s: %s s3://%s/%s: NoSuchBucket: bucket %q does not exist (HTTP %d)", handler, op, req.Bucket, req.Key, req.Bucket, status)
	}
	return &handlerError{errorType: code, sentinel: ErrS3, msg: msg}
}

// textSource is size bytes of review text as a seekable stream (the SDK seeks to retry
// and to checksum): a 1 MB generated block repeated. It counts records and words of each
// byte the first time it is read, and notes when the first byte was read.
type textSource struct {
	size, off, counted int64
	start              time.Time
	ttfb               time.Duration
	cnt                textCounter
}

var textBlock = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	dataset.Generate(&b, mb, 1)
	return b.Bytes()
})

func newTextSource(size int64, start time.Time) *textSource {
	return &textSource{size: size, start: start}
}

func (t *textSource) Read(p []byte) (int, error) {
	n, err := t.ReadAt(p, t.off)
	t.off += int64(n)
	return n, err
}

func (t *textSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= t.size {
		return 0, io.EOF
	}
	block := textBlock()
	n := 0
	for n < len(p) && off < t.size {
		i := off % int64(len(block))
		k := copy(p[n:], block[i:min(int64(len(block)), i+t.size-off)])
		n += k
		off += int64(k)
	}
	if t.ttfb == 0 {
		t.ttfb = time.Since(t.start)
	}
	if off > t.counted { // count each byte once, however often the SDK re-reads
		from := max(t.counted, off-int64(n))
		t.cnt.Write(p[n-int(off-from) : n])
		t.counted = off
	}
	return n, nil
}

func (t *textSource) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += t.off
	case io.SeekEnd:
		offset += t.size
	}
	if offset < 0 {
		return 0, errors.New("textSource: negative position")
	}
	t.off = offset
	return offset, nil
}
