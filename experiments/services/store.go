// Package services runs the remote side of a faaslab host — what a function talks to
// beyond its sandbox: an S3-compatible object store and a pool of iperf3 servers, both
// inside the remote network namespace so that every byte crosses the emulated NIC and
// its shaping. Each service is a supervised child process (restarted when it dies,
// counted in metrics, SIGKILLed if the daemon dies) torn down with the daemon.
package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/faaslab/faaslab/experiments/services/wan"
)

// Store modes.
const (
	StoreEmbedded = "embedded" // versitygw child in the remote netns (default)
	StoreExternal = "external" // any S3 endpoint by URL (real S3, MinIO)
	StoreOff      = "off"
)

// Defaults of the store, in one place.
const (
	DefaultStorePort = 9000
	DefaultAccessKey = "faaslab"
	DefaultSecretKey = "faaslab-secret-key"
	// CABundlePath is where sandboxes find the store's CA (AWS_CA_BUNDLE): beside the
	// bootstrap, bind-mounted read-only.
	CABundlePath      = "/var/runtime/faaslab-ca.pem"
	storeReadyTimeout = 15 * time.Second
)

// ErrNotEmbedded: the operation needs the embedded store (its directory).
var ErrNotEmbedded = errors.New("the object store is not the embedded one")

// StoreConfig configures the object store.
type StoreConfig struct {
	Mode         string `yaml:"mode"`          // embedded | external | off
	Endpoint     string `yaml:"endpoint"`      // external: URL, e.g. https://s3.eu-west-1.amazonaws.com
	Port         int    `yaml:"port"`          // embedded: port on the remote address
	TLS          *bool  `yaml:"tls"`           // embedded: HTTPS (default true)
	AccessKey    string `yaml:"access_key"`    // handed to functions as AWS_ACCESS_KEY_ID
	SecretKey    string `yaml:"secret_key"`    // AWS_SECRET_ACCESS_KEY
	SessionToken string `yaml:"session_token"` // AWS_SESSION_TOKEN (external stores with STS credentials)
	CABundle     string `yaml:"ca_bundle"`     // external: CA file to hand to functions ("" = system roots)
}

// DefaultStoreConfig is the embedded store over HTTPS with the default key pair.
func DefaultStoreConfig() StoreConfig {
	return StoreConfig{Mode: StoreEmbedded, Port: DefaultStorePort, AccessKey: DefaultAccessKey, SecretKey: DefaultSecretKey}
}

// UseTLS reports whether the embedded store serves HTTPS.
func (c StoreConfig) UseTLS() bool { return c.TLS == nil || *c.TLS }

// Validate names the offending field.
func (c StoreConfig) Validate() error {
	switch c.Mode {
	case StoreEmbedded:
		if c.Port <= 0 || c.Port > 65535 {
			return fmt.Errorf("services.s3.port %d: want 1-65535", c.Port)
		}
	case StoreExternal:
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("services.s3.endpoint %q: want an http(s) URL", c.Endpoint)
		}
	case StoreOff:
		return nil
	default:
		return fmt.Errorf("services.s3.mode %q: want embedded, external or off", c.Mode)
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return errors.New("services.s3.access_key and secret_key must both be set")
	}
	return nil
}

// RemoteRunner runs programs inside the remote netns (netshape.Host does).
type RemoteRunner interface {
	RemoteCommand(ctx context.Context, name string, args ...string) *exec.Cmd
	RemoteAddr() netip.Addr
	DoRemote(fn func() error) error
}

// StoreDeps is what the store needs from the daemon.
type StoreDeps struct {
	Remote RemoteRunner
	// Self is the faaslab binary, run as `faaslab serve-s3` for the embedded store.
	Self     string
	StateDir string // data under StateDir/s3, TLS files under StateDir/tls
	Region   string
	Log      *slog.Logger
	Metrics  *Metrics
	WAN      wan.Model // the embedded store's listener carries it
}

// Store is the object store functions reach.
type Store struct {
	cfg      StoreConfig
	endpoint string
	caFile   string // host path of the CA clients must trust ("" = system roots)
	dataDir  string // embedded: the posix root (buckets are directories)
	proc     *process
	wan      wan.Model
}

// StoreStatus is the host API's view of the store.
type StoreStatus struct {
	Mode     string         `json:"mode"`
	Endpoint string         `json:"endpoint,omitempty"`
	TLS      bool           `json:"tls"`
	DataDir  string         `json:"data_dir,omitempty"`
	Process  *ProcessStatus `json:"process,omitempty"`
}

// StartStore starts the configured store; the embedded one is listening when it returns.
func StartStore(cfg StoreConfig, deps StoreDeps) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg}
	switch cfg.Mode {
	case StoreOff:
		return s, nil
	case StoreExternal:
		s.endpoint, s.caFile = strings.TrimRight(cfg.Endpoint, "/"), cfg.CABundle
		return s, nil
	}
	return s, s.startEmbedded(deps)
}

func (s *Store) startEmbedded(deps StoreDeps) error {
	addr := netip.AddrPortFrom(deps.Remote.RemoteAddr(), uint16(s.cfg.Port))
	s.dataDir = filepath.Join(deps.StateDir, "s3")
	args := []string{"serve-s3", "--root", s.dataDir, "--listen", addr.String(), "--region", deps.Region,
		"--iam-dir", filepath.Join(deps.StateDir, "s3-iam")}
	if deps.WAN.Enabled() {
		s.wan = deps.WAN
		args = append(args, "--wan-rtt", deps.WAN.RTT.String(), "--wan-rate", fmt.Sprint(deps.WAN.BitsPerSec))
	}
	scheme := "http"
	if s.cfg.UseTLS() {
		tlsFiles, err := EnsureTLS(filepath.Join(deps.StateDir, "tls"), addr.Addr())
		if err != nil {
			return err
		}
		s.caFile, scheme = tlsFiles.CA, "https"
		args = append(args, "--cert", tlsFiles.Cert, "--key", tlsFiles.Key)
	}
	s.endpoint = scheme + "://" + addr.String()
	env := []string{"FAASLAB_S3_ACCESS_KEY=" + s.cfg.AccessKey, "FAASLAB_S3_SECRET_KEY=" + s.cfg.SecretKey}
	log := deps.Log.With("service", "s3")
	s.proc = newProcess("s3", func() *exec.Cmd {
		cmd := deps.Remote.RemoteCommand(context.Background(), deps.Self, args...)
		cmd.Env = env // nothing of the daemon's environment leaks in
		cmd.Stdout, cmd.Stderr = logWriter{log}, logWriter{log}
		return cmd
	}, false, log, deps.Metrics)
	if err := s.proc.start(); err != nil {
		s.proc.stop()
		return err
	}
	if err := waitListening(deps.Remote, addr.String(), storeReadyTimeout); err != nil {
		s.proc.stop()
		return fmt.Errorf("embedded S3 store on %s: %w", addr, err)
	}
	log.Info("object store ready", "endpoint", s.endpoint, "data", s.dataDir)
	return nil
}

// waitListening dials addr from inside the remote netns until it answers.
func waitListening(r RemoteRunner, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := r.DoRemote(func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening after %s: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Endpoint is the URL functions use ("" when off).
func (s *Store) Endpoint() string { return s.endpoint }

// CAFile is the host path of the CA bundle ("" = system roots).
func (s *Store) CAFile() string { return s.caFile }

// BucketDir is the embedded store's directory of bucket (it need not exist yet).
func (s *Store) BucketDir(bucket string) (string, error) {
	if s.dataDir == "" {
		return "", ErrNotEmbedded
	}
	if err := ValidBucket(bucket); err != nil {
		return "", err
	}
	return filepath.Join(s.dataDir, bucket), nil
}

// ValidBucket checks S3's bucket naming rules (3-63 of a-z 0-9 . -, starting and ending
// with a letter or digit), which also keeps a name from escaping the store's directory.
func ValidBucket(name string) error {
	ok := len(name) >= 3 && len(name) <= 63
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		ok = alnum || (c == '.' || c == '-') && i > 0 && i < len(name)-1
	}
	if !ok || strings.Contains(name, "..") {
		return fmt.Errorf("bucket name %q: want 3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// Env is what a function gets, as Lambda hands it an execution role's credentials:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (when set), and the
// endpoint and CA bundle (AWS_ENDPOINT_URL_S3, AWS_CA_BUNDLE) that the AWS SDKs and
// boto3 read on their own. Empty when the store is off.
func (s *Store) Env() map[string]string {
	if s.endpoint == "" {
		return nil
	}
	env := map[string]string{
		"AWS_ACCESS_KEY_ID":     s.cfg.AccessKey,
		"AWS_SECRET_ACCESS_KEY": s.cfg.SecretKey,
		"AWS_ENDPOINT_URL_S3":   s.endpoint,
	}
	if s.cfg.SessionToken != "" {
		env["AWS_SESSION_TOKEN"] = s.cfg.SessionToken
	}
	if s.caFile != "" {
		env["AWS_CA_BUNDLE"] = CABundlePath
	}
	return env
}

// Status is the host API's view.
func (s *Store) Status() StoreStatus {
	st := StoreStatus{Mode: s.cfg.Mode, Endpoint: s.endpoint, TLS: strings.HasPrefix(s.endpoint, "https:"), DataDir: s.dataDir}
	if s.proc != nil {
		ps := s.proc.Status()
		st.Process = &ps
	}
	return st
}

// WAN is the WAN model in force on the path to the store.
func (s *Store) WAN() wan.Status { return s.wan.Status() }

// PID of the embedded store's process (0 when not running).
func (s *Store) PID() int {
	if s.proc == nil {
		return 0
	}
	return s.proc.Status().PID
}

// Close stops the embedded store.
func (s *Store) Close() {
	if s.proc != nil {
		s.proc.stop()
	}
}

// logWriter turns a child's output lines into log records.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.log.Info(line)
		}
	}
	return len(p), nil
}
