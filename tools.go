//go:build tools

// Package faaslab pins the one module that only testdata uses: runtime/testdata/awslambdago
// is a function built with github.com/aws/aws-lambda-go, and the go tool ignores testdata
// directories, so `go mod tidy` would otherwise drop it.
package faaslab

import (
	_ "github.com/aws/aws-lambda-go/lambda"
)
