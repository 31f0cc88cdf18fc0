package sandbox

import (
	"os"
	"path/filepath"

	"github.com/faaslab/faaslab/sandbox/cpustat"
)

// ReadCPUStat reads cpu.stat of the cgroup at path (the cpu controller's on v1).
func ReadCPUStat(path string) (cpustat.Stat, error) {
	b, err := os.ReadFile(filepath.Join(controllerDir("cpu", path), "cpu.stat"))
	if err != nil {
		return cpustat.Stat{}, err
	}
	return cpustat.Parse(string(b))
}
