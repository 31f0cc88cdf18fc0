package handlers

import "context"

// Echo returns the payload unchanged.
func Echo(_ context.Context, payload []byte) ([]byte, error) {
	return payload, nil
}
