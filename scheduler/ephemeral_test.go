package scheduler

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateEphemeralStorage(t *testing.T) {
	for mb, ok := range map[int]bool{511: false, 512: true, 1024: true, 10240: true, 10241: false} {
		err := validateEphemeralStorage(mb)
		var pe *ParamError
		if ok != (err == nil) || err != nil && (!errors.As(err, &pe) || pe.Field != "EphemeralStorage" || !strings.Contains(err.Error(), "ephemeralStorage.size")) {
			t.Errorf("%d MB: %v", mb, err)
		}
	}
	big := 2048
	f := &FunctionConfig{EphemeralStorageMB: 512}
	c := ConfigUpdate{EphemeralStorageMB: &big}.apply(f)
	if c.EphemeralStorageMB != 2048 || f.EphemeralStorageMB != 512 {
		t.Errorf("update to 2048: %+v (original %d)", c, f.EphemeralStorageMB)
	}
}
