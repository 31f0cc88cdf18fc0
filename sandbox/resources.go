package sandbox

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Profile describes the host a faaslab daemon emulates: the machine a FaaS provider
// packs sandboxes onto. All sandboxes of a host sit under one parent cgroup capped at the
// profile, so a small profile can be emulated on a bigger box.
type Profile struct {
	Name                string
	VCPUs               float64
	MemoryBytes         int64
	MaxFunctionMemoryMB int   // the largest MemorySize a function may ask for
	NICBitsPerSec       int64 // capacity of the emulated host NIC; 0 = unlimited
}

// builtinProfiles are the built-in host profiles. c3.large is the paper's host (2 vCPU,
// 3.75 GiB); its NIC is set to 560 Mbit/s, the ~70 MB/s the paper measured with iperf3 at
// 128 MB.
var builtinProfiles = map[string]Profile{
	"c3.large":  {Name: "c3.large", VCPUs: 2, MemoryBytes: 3840 << 20, MaxFunctionMemoryMB: 3008, NICBitsPerSec: 560_000_000},
	"c5.xlarge": {Name: "c5.xlarge", VCPUs: 4, MemoryBytes: 8 << 30, MaxFunctionMemoryMB: 3008, NICBitsPerSec: 10_000_000_000},
	"m5.2xlarge": {Name: "m5.2xlarge", VCPUs: 8, MemoryBytes: 32 << 30, MaxFunctionMemoryMB: 10240,
		NICBitsPerSec: 10_000_000_000},
}

// DefaultProfile is the profile a daemon uses when none is named.
const DefaultProfile = "c3.large"

// LookupProfile returns the named built-in profile or an error listing the known ones.
func LookupProfile(name string) (Profile, error) {
	p, ok := builtinProfiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown host profile %q (known: %s)", name, strings.Join(ProfileNames(), ", "))
	}
	return p, nil
}

// ProfileNames lists the built-in profiles, sorted.
func ProfileNames() []string {
	names := make([]string, 0, len(builtinProfiles))
	for n := range builtinProfiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultHostProfile is the DefaultProfile (c3.large, the paper's host).
func DefaultHostProfile() Profile { return builtinProfiles[DefaultProfile] }

// MustProfile is LookupProfile for names known to be built in (tests, defaults); it panics
// on an unknown name.
func MustProfile(name string) Profile {
	p, err := LookupProfile(name)
	if err != nil {
		panic(err)
	}
	return p
}

// CPUModel decides how much CPU a function gets for its memory.
type CPUModel string

const (
	// CPUModelPaper is the paper's emulation: cpus = host vCPUs × memory / max memory.
	CPUModelPaper CPUModel = "paper"
	// CPUModelLambda is AWS's current rule: one vCPU per 1769 MB, at most 6.
	CPUModelLambda CPUModel = "lambda"
)

const (
	// CFSPeriodUs is the CFS period every sandbox uses (100 ms, the kernel and Docker default).
	CFSPeriodUs = 100_000
	// MinMemoryMB is Lambda's smallest MemorySize.
	MinMemoryMB = 128
	// DefaultPidsMax mirrors Lambda's limit of 1024 processes and threads per sandbox.
	DefaultPidsMax  = 1024
	lambdaMBPerVCPU = 1769
	lambdaMaxVCPUs  = 6
	// cpuGranularity rounds CPUs to 0.001, Docker's --cpus resolution, which is how the
	// paper's 2.0 × 128 / 3008 = 0.0851 becomes 0.085 and a quota of 8500 µs.
	cpuGranularity = 1000
)

// Resources are the kernel limits of one sandbox.
type Resources struct {
	MemoryMB    int
	MemoryBytes int64
	CPUs        float64 // rounded to 0.001
	CPUQuotaUs  int64   // cpu.cfs_quota_us (v1) / first field of cpu.max (v2)
	CPUPeriodUs uint64  // cpu.cfs_period_us / second field of cpu.max
	PidsMax     int64
}

// ParseCPUModel accepts "paper" or "lambda" ("" means paper).
func ParseCPUModel(s string) (CPUModel, error) {
	switch CPUModel(s) {
	case "", CPUModelPaper:
		return CPUModelPaper, nil
	case CPUModelLambda:
		return CPUModelLambda, nil
	}
	return "", fmt.Errorf("unknown CPU model %q (want %q or %q)", s, CPUModelPaper, CPUModelLambda)
}

// ValidateMemory reports whether memoryMB is a MemorySize this profile accepts.
func (p Profile) ValidateMemory(memoryMB int) error {
	if memoryMB < MinMemoryMB || memoryMB > p.MaxFunctionMemoryMB {
		return fmt.Errorf("MemorySize %d MB is outside %d–%d MB (host profile %s)",
			memoryMB, MinMemoryMB, p.MaxFunctionMemoryMB, p.Name)
	}
	return nil
}

// ResourcesFor computes a sandbox's limits for memoryMB under model on this profile.
func (p Profile) ResourcesFor(model CPUModel, memoryMB int) (Resources, error) {
	if err := p.ValidateMemory(memoryMB); err != nil {
		return Resources{}, err
	}
	var cpus float64
	switch model {
	case CPUModelPaper, "":
		cpus = p.VCPUs * float64(memoryMB) / float64(p.MaxFunctionMemoryMB)
	case CPUModelLambda:
		cpus = math.Min(float64(memoryMB)/lambdaMBPerVCPU, lambdaMaxVCPUs)
	default:
		return Resources{}, fmt.Errorf("unknown CPU model %q", model)
	}
	cpus = math.Round(cpus*cpuGranularity) / cpuGranularity
	if cpus <= 0 {
		cpus = 1.0 / cpuGranularity
	}
	return Resources{
		MemoryMB:    memoryMB,
		MemoryBytes: int64(memoryMB) << 20,
		CPUs:        cpus,
		CPUQuotaUs:  int64(math.Round(cpus * CFSPeriodUs)),
		CPUPeriodUs: CFSPeriodUs,
		PidsMax:     DefaultPidsMax,
	}, nil
}

// HostResources are the limits of the parent cgroup that holds every sandbox of the host.
func (p Profile) HostResources() Resources {
	return Resources{
		MemoryMB:    int(p.MemoryBytes >> 20),
		MemoryBytes: p.MemoryBytes,
		CPUs:        p.VCPUs,
		CPUQuotaUs:  int64(math.Round(p.VCPUs * CFSPeriodUs)),
		CPUPeriodUs: CFSPeriodUs,
	}
}
