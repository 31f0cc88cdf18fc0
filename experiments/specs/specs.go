// Package specs holds the built-in experiment specs, one per figure of the paper plus the
// policy comparison and today's CPU model, embedded in the binary.
package specs

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/faaslab/faaslab/experiments/spec"
)

//go:embed *.yaml
var files embed.FS

// Names lists the built-in specs in the paper's order.
func Names() []string {
	entries, _ := fs.Glob(files, "*.yaml") // the pattern is valid: no error
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = strings.TrimSuffix(e, ".yaml")
	}
	slices.Sort(names) // fig2 … fig7, then policies, today
	return names
}

// Load returns a built-in spec, validated.
func Load(name string) (*spec.Spec, error) {
	data, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no built-in spec %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return spec.Parse(data)
}

// Source returns a built-in spec's YAML as written.
func Source(name string) ([]byte, error) { return files.ReadFile(name + ".yaml") }

// Resolve reads a built-in spec by name, or a YAML file (a path or a name ending .yaml).
func Resolve(arg string) (*spec.Spec, error) {
	if !strings.HasSuffix(arg, ".yaml") && !strings.HasSuffix(arg, ".yml") && !strings.Contains(arg, "/") {
		return Load(arg)
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return nil, err
	}
	s, err := spec.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	return s, nil
}
