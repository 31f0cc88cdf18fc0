package scheduler

import (
	"regexp"
	"testing"
)

// Function names: exactly Lambda's pattern is accepted, and a refusal names the field.
func FuzzValidateFunctionName(f *testing.F) {
	for _, s := range []string{"fn", "my-function_1", "", "a:b", "x/../y", string(make([]byte, 65)), "ü"} {
		f.Add(s)
	}
	lambda := regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateFunctionName(name)
		if (err == nil) != lambda.MatchString(name) {
			t.Errorf("ValidateFunctionName(%q) = %v", name, err)
		}
		if pe, ok := err.(*ParamError); err != nil && (!ok || pe.Field != "FunctionName") {
			t.Errorf("ValidateFunctionName(%q): %v does not name FunctionName", name, err)
		}
	})
}
