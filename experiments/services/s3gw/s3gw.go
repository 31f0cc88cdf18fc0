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
	"os"

	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
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
}

// Limits of the gateway: versitygw's own defaults, written out because embedgw
// refuses zero values.
const (
	maxConnections = 250000
	maxRequests    = 100000
	maxParts       = 10000
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
	return embedgw.RunVersityGW(ctx, be, &embedgw.Config{
		RootUserAccess:    o.AccessKey,
		RootUserSecret:    o.SecretKey,
		Region:            o.Region,
		Ports:             []string{o.Listen},
		CertFile:          o.CertFile,
		KeyFile:           o.KeyFile,
		MaxConnections:    maxConnections,
		MaxRequests:       maxRequests,
		MultipartMaxParts: maxParts,
		KeepAlive:         true,
		Quiet:             true,
	})
}
