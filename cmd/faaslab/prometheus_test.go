package main

// A real Prometheus (Debian's prometheus package) for the integration tests: our own
// process on a loopback port with a temporary storage directory and a config derived from
// deploy/prometheus/prometheus.yml. It never uses the packaged systemd service, its port
// or its data, and is stopped by PID.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

const deployPrometheusConfig = "../../deploy/prometheus/prometheus.yml"

type promServer struct {
	t    *testing.T
	base string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
}

// startPrometheus runs prometheus scraping target (host:port) every second, using the
// scrape job of deploy/prometheus/prometheus.yml with only the target replaced.
func startPrometheus(t *testing.T, target string) *promServer {
	t.Helper()
	bin := requirePrometheus(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, promConfigFor(t, target), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &promServer{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", freePort(t))}
	u, _ := url.Parse(p.base)
	p.cmd = exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+u.Host, "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", tail(string(b), 4000))
		}
	})
	p.waitFor(t, "prometheus scraping "+target, func() bool {
		v, err := p.query(`up{job="faaslab"}`, time.Time{})
		return err == nil && len(v) == 1 && v[0].Value == 1
	})
	return p
}

// requirePrometheus returns the prometheus binary or skips the test.
func requirePrometheus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (Debian package prometheus; make deps installs it)")
	}
	if _, err := os.Stat(deployPrometheusConfig); err != nil {
		t.Skipf("no %s here (the VM carries test binaries, not deploy/): %v", deployPrometheusConfig, err)
	}
	return bin
}

// promConfigFor is the deployed config with the target (and, when present, nothing else)
// replaced: the test checks the file users run.
func promConfigFor(t *testing.T, target string) []byte {
	t.Helper()
	b, err := os.ReadFile(deployPrometheusConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", deployPrometheusConfig, err)
	}
	jobs, _ := cfg["scrape_configs"].([]any)
	if len(jobs) != 1 {
		t.Fatalf("%s: want one scrape job, got %d", deployPrometheusConfig, len(jobs))
	}
	job := jobs[0].(map[string]any)
	job["static_configs"] = []any{map[string]any{"targets": []any{target}}}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type promSample struct {
	Labels map[string]string
	Value  float64
}

// query evaluates expr through the HTTP API at time at (zero: now).
func (p *promServer) query(expr string, at time.Time) ([]promSample, error) {
	q := url.Values{"query": {expr}}
	if !at.IsZero() {
		q.Set("time", strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64))
	}
	resp, err := http.Get(p.base + "/api/v1/query?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %s: %w", expr, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", expr, body.Error)
	}
	var out []promSample
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", expr, r.Value, err)
		}
		out = append(out, promSample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// mustQuery is query failing the test on error.
func (p *promServer) mustQuery(expr string, at time.Time) []promSample {
	p.t.Helper()
	v, err := p.query(expr, at)
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}

// waitScrapedAfter waits until Prometheus holds a scrape newer than at, so queries
// evaluated at `at` see complete data.
func (p *promServer) waitScrapedAfter(t *testing.T, at time.Time) {
	t.Helper()
	p.waitFor(t, "a scrape after the measurement window", func() bool {
		v, err := p.query(`timestamp(up{job="faaslab"})`, time.Time{})
		return err == nil && len(v) == 1 && v[0].Value > float64(at.Unix())+1
	})
}

func (p *promServer) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: timed out", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// scrapeGatherer is a prometheus.Gatherer reading a running daemon's /metrics, so
// testutil.GatherAndLint and the dashboard check see exactly what Prometheus scrapes.
func scrapeGatherer(metricsURL, token string) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		req, err := http.NewRequest(http.MethodGet, metricsURL, nil)
		if err != nil {
			return nil, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			return nil, fmt.Errorf("GET %s: %s: %s", metricsURL, resp.Status, b)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		byName, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			return nil, err
		}
		out := make([]*dto.MetricFamily, 0, len(byName))
		for _, mf := range byName {
			out = append(out, mf)
		}
		return out, nil
	})
}
