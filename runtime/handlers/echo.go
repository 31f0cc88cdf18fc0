package handlers

import "context"

func init() { register("echo", Echo) }

// Echo returns the payload unchanged.
func Echo(_ context.Context, payload []byte) ([]byte, error) {
	return payload, nil
}
