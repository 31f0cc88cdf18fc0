// Command awslambdago is a function built with github.com/aws/aws-lambda-go, unmodified,
// that the runtime package's wire-compatibility test runs against faaslab's Runtime API.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Name string `json:"name"`
	Fail bool   `json:"fail"`
}

type reply struct {
	Greeting    string `json:"greeting"`
	RequestID   string `json:"requestId"`
	FunctionARN string `json:"functionArn"`
	HasDeadline bool   `json:"hasDeadline"`
	Function    string `json:"function"`
}

func handle(ctx context.Context, ev event) (reply, error) {
	if ev.Fail {
		return reply{}, errors.New("asked to fail")
	}
	lc, _ := lambdacontext.FromContext(ctx)
	_, hasDeadline := ctx.Deadline()
	return reply{
		Greeting:    "hello " + ev.Name,
		RequestID:   lc.AwsRequestID,
		FunctionARN: lc.InvokedFunctionArn,
		HasDeadline: hasDeadline,
		Function:    os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
	}, nil
}

func main() {
	lambda.Start(handle)
}
