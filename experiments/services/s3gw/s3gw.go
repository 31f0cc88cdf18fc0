// Package s3gw runs versitygw (an S3 gateway, Apache-2.0) with its posix backend: each
// bucket is a directory under Root, each object a file, so pre-generated data served in
// place is a hard link. It is the body of the hidden `faaslab serve-s3` command, which the
// daemon runs as a supervised child inside the remote network namespace: versitygw's
// posix.New changes the process's working directory and binds by address string, so it
// does not belong inside the daemon's own process.
package s3gw

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"

	"github.com/faaslab/faaslab/experiments/services/wan"
)

// Options of one gateway. Every field but CertFile/KeyFile is required.
type Options struct {
	Root      string // bucket directories live here
	Listen    string // host:port, e.g. 10.201.255.254:9000
	AccessKey string
	SecretKey string
	Region    string
	// CertFile and KeyFile enable HTTPS (both or neither).
	CertFile, KeyFile string
	// IAMDir, when set, holds versitygw's internal IAM (no accounts but the root): an
	// unknown access key id is then 403 InvalidAccessKeyId, as S3 answers, where the
	// single-account mode answers 404 XAdminUserNotFound. Keep it outside Root (every
	// directory of Root is a bucket).
	IAMDir string
	// WAN, when enabled, puts the WAN model's listener in front of the gateway: the
	// gateway then listens on an abstract Unix socket (private to the netns) and Listen
	// is a wan.Proxy to it.
	WAN wan.Model
}

// Limits of the gateway: versitygw's own defaults, written out because embedgw
// refuses zero values.
const (
	maxConnections = 250000
	maxRequests    = 100000
	maxParts       = 10000
	// The IAM cache's entry lifetime and prune interval, in seconds: versitygw's CLI
	// defaults. embedgw leaves them 0, and a 0 prune interval makes the cache's pruner
	// spin (time.After(0) in a loop): a whole core burnt, stolen from the host it emulates.
	iamCacheTTL   = 120
	iamCachePrune = 3600
)

// Validate names the first missing field.
func (o Options) Validate() error {
	switch {
	case o.Root == "":
		return errors.New("s3 gateway: root directory is required")
	case o.Listen == "":
		return errors.New("s3 gateway: listen address is required")
	case o.AccessKey == "" || o.SecretKey == "":
		return errors.New("s3 gateway: access key and secret key are required")
	case (o.CertFile == "") != (o.KeyFile == ""):
		return errors.New("s3 gateway: cert and key must be given together")
	}
	return nil
}

// Serve runs the gateway until ctx ends. Metadata (ETags, content types) goes to
// extended attributes when Root's filesystem supports them, else it is not kept.
func Serve(ctx context.Context, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	// posix.New changes the working directory to Root: a relative IAM directory or
	// certificate (e.g. from `--state-dir results/.daemon-state`) would then be looked up
	// under Root, so every path is made absolute first.
	if err := absPaths(&o.Root, &o.IAMDir, &o.CertFile, &o.KeyFile); err != nil {
		return fmt.Errorf("s3 gateway: %w", err)
	}
	if err := os.MkdirAll(o.Root, 0o755); err != nil {
		return fmt.Errorf("s3 gateway root: %w", err)
	}
	var ms meta.MetadataStorer = meta.XattrMeta{}
	if err := (meta.XattrMeta{}).Test(o.Root); err != nil {
		ms = meta.NoMeta{}
	}
	be, err := posix.New(o.Root, ms, posix.PosixOpts{NewDirPerm: 0o755, BucketLinks: true})
	if err != nil {
		return fmt.Errorf("s3 gateway posix backend on %s: %w", o.Root, err)
	}
	defer be.Shutdown()
	if o.IAMDir != "" {
		if err := os.MkdirAll(o.IAMDir, 0o700); err != nil {
			return fmt.Errorf("s3 gateway IAM directory: %w", err)
		}
	}
	if !o.WAN.Enabled() {
		return runGateway(ctx, be, o, o.Listen)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("s3 gateway WAN listener: %w", err)
	}
	inner := fmt.Sprintf("@faaslab-s3-%d", os.Getpid()) // abstract: no file, gone with the process
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	proxied := make(chan error, 1)
	go func() {
		proxied <- wan.Proxy(ctx, ln, o.WAN, func() (net.Conn, error) { return net.Dial("unix", inner) })
	}()
	served := make(chan error, 1)
	go func() { served <- runGateway(ctx, be, o, inner) }()
	// Either one ending ends both, and Serve: a gateway nobody reaches, or a proxy to no
	// gateway, is a dead store, and only this process's exit lets its supervisor restart it.
	select {
	case err = <-served:
		cancel()
		if perr := <-proxied; err == nil && perr != nil {
			err = fmt.Errorf("s3 gateway WAN proxy: %w", perr)
		}
	case perr := <-proxied:
		if perr != nil {
			perr = fmt.Errorf("s3 gateway WAN proxy: %w", perr)
		}
		cancel()
		if err = <-served; perr != nil {
			err = perr
		}
	}
	return err
}

// runGateway serves S3 on listen until ctx ends.
func runGateway(ctx context.Context, be *posix.Posix, o Options, listen string) error {
	return embedgw.RunVersityGW(ctx, be, &embedgw.Config{
		RootUserAccess:    o.AccessKey,
		RootUserSecret:    o.SecretKey,
		Region:            o.Region,
		Ports:             []string{listen},
		CertFile:          o.CertFile,
		KeyFile:           o.KeyFile,
		IAMDir:            o.IAMDir,
		IAMCacheTTL:       iamCacheTTL,
		IAMCachePrune:     iamCachePrune,
		MaxConnections:    maxConnections,
		MaxRequests:       maxRequests,
		MultipartMaxParts: maxParts,
		KeepAlive:         true,
		Quiet:             true,
	})
}

// absPaths makes each non-empty path absolute against the current working directory.
func absPaths(paths ...*string) error {
	for _, p := range paths {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}
