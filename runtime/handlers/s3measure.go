package handlers

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/faaslab/faaslab/sandbox/cpustat"
	"golang.org/x/sys/unix"
)

// S3Request is the payload of s3get, s3put, s3get-boto3 and s3put-boto3.
type S3Request struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Bytes is the object size to upload (put only; the data is generated review text).
	Bytes int64 `json:"bytes,omitempty"`
	// PartMB switches to a multipart transfer with parts of this many MB (10^6 bytes).
	PartMB int `json:"part_mb,omitempty"`
}

// S3Response is what every S3 workload answers. MB are 10^6 bytes. CPU and throttling
// are deltas of the sandbox's own cgroup during the transfer: the paper's explanation of
// Fig. 4 is that the CPU quota, not the network, limits a small function's S3 rate.
type S3Response struct {
	Bucket           string  `json:"bucket"`
	Key              string  `json:"key"`
	Bytes            int64   `json:"bytes"`
	Seconds          float64 `json:"seconds"`
	MBPerSec         float64 `json:"mb_per_sec"`
	TTFBSeconds      float64 `json:"ttfb_seconds"`
	Records          int64   `json:"records"`
	Words            int64   `json:"words"`
	CPUSeconds       float64 `json:"cpu_seconds"`
	ThrottledPeriods int64   `json:"throttled_periods"`
	NrPeriods        int64   `json:"nr_periods"`
	ThrottledSeconds float64 `json:"throttled_seconds"`
	SandboxID        string  `json:"sandbox_id"`
	HostID           string  `json:"host_id"`
}

const (
	s3GetWant   = `{"bucket": "faaslab-data", "key": "10mb/part-00000.txt", "part_mb": 0}`
	s3PutWant   = `{"bucket": "faaslab-data", "key": "out/1.txt", "bytes": 10000000, "part_mb": 0}`
	maxPutBytes = 5 << 40 // S3's object size limit
	mb          = 1_000_000
)

func parseS3Request(handler, want string, payload []byte, put bool) (S3Request, error) {
	var req S3Request
	err := decode(payload, &req)
	switch {
	case err != nil:
	case req.Bucket == "":
		err = fmt.Errorf("bucket is required")
	case req.Key == "":
		err = fmt.Errorf("key is required")
	case put && (req.Bytes <= 0 || req.Bytes > maxPutBytes):
		err = fmt.Errorf("bytes %d: want 1 … 5 TiB", req.Bytes)
	case !put && req.Bytes != 0:
		err = fmt.Errorf("bytes is for puts only")
	case req.PartMB < 0 || req.PartMB > 5000:
		err = fmt.Errorf("part_mb %d: want 5 … 5000 (0 = single request)", req.PartMB)
	case req.PartMB > 0 && req.PartMB < 5:
		err = fmt.Errorf("part_mb %d: S3 parts are at least 5 MB", req.PartMB)
	}
	if err != nil {
		return req, invalidPayload(handler, want, err)
	}
	return req, nil
}

// cpuSample is the sandbox's CPU accounting at one instant.
type cpuSample struct {
	cpuNs, throttledNs, periods, throttled int64
}

// cgroupCPUDirs are where a sandbox sees its own CPU cgroup: native sandboxes get it at
// /sys/fs/cgroup (read-only bind); docker shows v1 controllers under their names.
var cgroupCPUDirs = []string{"/sys/fs/cgroup", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"}

// readCPU reads cpu.stat (throttling on v1 and v2, usage on v2), cpuacct.usage (v1 usage)
// or, failing both, the process tree's rusage.
func readCPU() cpuSample {
	var s cpuSample
	usage := int64(-1)
	for _, dir := range cgroupCPUDirs {
		b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			continue
		}
		cs, err := cpustat.Parse(string(b))
		if err != nil {
			continue
		}
		s.periods, s.throttled, s.throttledNs = int64(cs.Periods), int64(cs.ThrottledPeriods), int64(cs.ThrottledNs)
		if cs.HasUsage {
			usage = int64(cs.UsageNs)
		}
		if usage < 0 {
			if b, err := os.ReadFile(filepath.Join(dir, "cpuacct.usage")); err == nil {
				usage, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			}
		}
		break
	}
	if usage < 0 {
		usage = rusageNs(unix.RUSAGE_SELF) + rusageNs(unix.RUSAGE_CHILDREN)
	}
	s.cpuNs = usage
	return s
}

func rusageNs(who int) int64 {
	var ru unix.Rusage
	if unix.Getrusage(who, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// measure wraps one transfer: it fills the CPU deltas, rates and identities of out.
type measure struct {
	start time.Time
	cpu   cpuSample
}

func startMeasure() measure { return measure{cpu: readCPU(), start: time.Now()} }

func (m measure) finish(out *S3Response) {
	out.Seconds = time.Since(m.start).Seconds()
	end := readCPU()
	out.CPUSeconds = float64(end.cpuNs-m.cpu.cpuNs) / 1e9
	out.NrPeriods = end.periods - m.cpu.periods
	out.ThrottledPeriods = end.throttled - m.cpu.throttled
	out.ThrottledSeconds = float64(end.throttledNs-m.cpu.throttledNs) / 1e9
	if out.Seconds > 0 {
		out.MBPerSec = float64(out.Bytes) / mb / out.Seconds
	}
	out.SandboxID, out.HostID = sandboxIdentity()
}

// sandboxIdentity: the sandbox id is its hostname; the host id is its cgroup's parent
// path — what co-resident sandboxes share (the paper's co-residency probe).
func sandboxIdentity() (sandboxID, hostID string) {
	sandboxID, _ = os.Hostname()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return sandboxID, ""
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" || strings.Contains(","+parts[1]+",", ",cpu,") {
			return sandboxID, filepath.Dir(parts[2])
		}
	}
	return sandboxID, ""
}

// textCounter counts records (newlines) and words (runs of non-space) of a stream fed
// in chunks: the "processing" a data function does with what it downloads.
type textCounter struct {
	records, words int64
	inWord         bool
}

// isASCIISpace is Python's bytes.isspace (space, \t, \n, \r, \v, \f), so that s3get and
// s3get-boto3 (whose script splits with bytes.split) count the same words in an object.
func isASCIISpace(b byte) bool {
	return b == ' ' || b >= '\t' && b <= '\r'
}

func (c *textCounter) Write(p []byte) (int, error) {
	for _, b := range p {
		space := isASCIISpace(b)
		if b == '\n' {
			c.records++
		}
		if !space && !c.inWord {
			c.words++
		}
		c.inWord = !space
	}
	return len(p), nil
}
