// Command s3badcreds is a custom-runtime function (github.com/aws/aws-lambda-go) that GETs
// an object from the store named by its environment (AWS_ENDPOINT_URL_S3, AWS_CA_BUNDLE)
// with the credentials of its event — wrong ones on purpose — or, when the event has none,
// with the execution role's from its environment, and reports the HTTP status and S3 error
// code it got. Functions cannot override the reserved AWS_* variables, so wrong
// credentials have to come from the code, as here.
package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

type event struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	AccessKey string `json:"access_key"` // "" = the environment's credentials
	SecretKey string `json:"secret_key"`
}

type reply struct {
	Status   int    `json:"status"`         // HTTP status of the GET
	Code     string `json:"code,omitempty"` // S3 error code
	Bytes    int64  `json:"bytes"`
	Endpoint string `json:"endpoint"`
}

func handle(ctx context.Context, ev event) (reply, error) {
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
	opts := []func(*config.LoadOptions) error{config.WithRegion("us-east-1")}
	if ev.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(ev.AccessKey, ev.SecretKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...) // reads AWS_CA_BUNDLE
	if err != nil {
		return reply{}, err
	}
	cl := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true; o.BaseEndpoint = aws.String(endpoint) })
	out := reply{Endpoint: endpoint}
	res, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(ev.Bucket), Key: aws.String(ev.Key)})
	if err == nil {
		defer res.Body.Close()
		out.Status = 200
		out.Bytes, err = io.Copy(io.Discard, res.Body)
		return out, err
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return out, err // no HTTP answer at all: a function error
	}
	out.Status = re.HTTPStatusCode()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		out.Code = ae.ErrorCode()
	}
	return out, nil
}

func main() { lambda.Start(handle) }
