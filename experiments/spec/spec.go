// Package spec loads and validates experiment specs: YAML documents that say what to run
// (workloads, memory sizes, co-location counts, policies, CPU models) and how often. A spec
// is checked whole before anything starts; every error names the field, the value and
// what is allowed.
//
// A spec is one or more parts (the panels of a figure: fig4's memory sweep, fig6's
// co-location sweep). Fields set at the top level are inherited by every part; a part's own
// fields win. The `quick:` block (top level or per part) overrides both under --quick.
package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/faaslab/faaslab/experiments/workload"
	"github.com/faaslab/faaslab/netshape/shape"
	"github.com/faaslab/faaslab/sandbox"
)

// ErrInvalid wraps every validation error, so callers can tell a bad spec from an I/O error.
var ErrInvalid = errors.New("invalid spec")

// Allowed values, in the order error messages list them (unexported: nothing outside can
// change them; the workloads are workload.Names, the runner's own list).
var (
	workloads = workload.Names()
	policies  = []string{"none", "equal", "proportional", "proportional-strict", "priority", "fixed"}
	cpuModels = []string{"paper", "lambda"}
	nicQueues = []string{"fair", "fifo"}
	backends  = []string{"native", "docker"}
	profiles  = sandbox.ProfileNames()
	wanModels = []string{"none"} // specs cannot set the daemon's WAN model yet (--wan-rtt/--wan-rate)
)

// Bounds.
const (
	MinMemoryMB     = 128
	MaxMemoryMB     = 10240
	MaxColocation   = 256
	MaxObjects      = 100000
	MaxChunkMB      = 1024
	MaxRepetitions  = 1000
	MaxIperfSeconds = 900
	MinSampleEvery  = 10 * time.Millisecond
)

// Duration is a time.Duration written as "100ms" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 100ms)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes it back as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalJSON writes it as a string (the manifest keeps the spec as JSON).
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON reads a duration string (a resumed run reloads the spec from the manifest).
func (d *Duration) UnmarshalJSON(b []byte) error {
	v, err := time.ParseDuration(strings.Trim(string(b), `"`))
	*d = Duration(v)
	return err
}

// List is a value or a list of values in YAML ("policy: none" or "policy: [none, equal]").
type List[T any] []T

// UnmarshalYAML accepts a scalar or a sequence.
func (l *List[T]) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		var s []T
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = s
		return nil
	}
	var v T
	if err := n.Decode(&v); err != nil {
		return err
	}
	*l = List[T]{v}
	return nil
}

// Sweep is what a part varies and how much of it runs. Every list is a sweep axis; the
// plan takes their cross product. Pointers tell "not set" (inherit) from zero.
type Sweep struct {
	Workload List[string] `yaml:"workload,omitempty" json:"workload,omitempty"`
	CPUModel List[string] `yaml:"cpu_model,omitempty" json:"cpu_model,omitempty"`
	Policy   List[string] `yaml:"policy,omitempty" json:"policy,omitempty"`
	NICQueue List[string] `yaml:"nic_queue,omitempty" json:"nic_queue,omitempty"`
	// MemoryMB: every co-located function gets the same size, one trial per size.
	MemoryMB List[int] `yaml:"memory_mb,omitempty" json:"memory_mb,omitempty"`
	// Mix: co-located functions take these sizes in turn (mixed memory on one host).
	Mix []int `yaml:"mix,omitempty" json:"mix,omitempty"`
	// Colocation: N functions on one host (default 1, or len(mix) with a mix).
	Colocation List[int] `yaml:"colocation,omitempty" json:"colocation,omitempty"`
	ChunkMB    List[int] `yaml:"chunk_mb,omitempty" json:"chunk_mb,omitempty"` // object size (dataset chunk set)
	Objects    *int      `yaml:"objects,omitempty" json:"objects,omitempty"`   // work-queue items per trial
	// Repetitions of every point.
	Repetitions  *int `yaml:"repetitions,omitempty" json:"repetitions,omitempty"`
	IperfSeconds *int `yaml:"iperf_seconds,omitempty" json:"iperf_seconds,omitempty"`
}

// Part is one panel of a spec: a sweep with a name, and its own quick overrides.
type Part struct {
	Name  string `yaml:"name" json:"name"`
	Sweep `yaml:",inline" json:",inline"`
	Quick *Sweep `yaml:"quick,omitempty" json:"quick,omitempty"`
}

// Spec is a whole experiment.
type Spec struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Paper is what the paper reports, for the report's paper-vs-measured table.
	Paper string `yaml:"paper,omitempty" json:"paper,omitempty"`
	// Host: what the daemon is started with (or, with --endpoint, what it must be running).
	Profile        string   `yaml:"profile,omitempty" json:"profile,omitempty"`
	Backend        string   `yaml:"backend,omitempty" json:"backend,omitempty"`
	NIC            string   `yaml:"nic,omitempty" json:"nic,omitempty"`               // e.g. 560mbit ("" = the profile's)
	FixedRate      string   `yaml:"fixed_rate,omitempty" json:"fixed_rate,omitempty"` // policy fixed
	SampleInterval Duration `yaml:"sample_interval,omitempty" json:"sample_interval,omitempty"`
	WAN            string   `yaml:"wan,omitempty" json:"wan,omitempty"`
	Sweep          `yaml:",inline" json:",inline"`
	Parts          []Part `yaml:"parts,omitempty" json:"parts,omitempty"`
	Quick          *Sweep `yaml:"quick,omitempty" json:"quick,omitempty"`
}

// defaults fills what a spec does not say. They live here and nowhere else (unexported:
// nothing outside can change them).
var defaults = struct {
	Profile, Backend, WAN           string
	CPUModel, Policy                string
	MemoryMB, Colocation, ChunkMB   int
	Objects, Repetitions, IperfSecs int
	SampleInterval                  time.Duration
}{
	Profile: "c3.large", Backend: "native", WAN: "none",
	CPUModel: "paper", Policy: "none",
	MemoryMB: 128, ChunkMB: 10,
	Objects: 100, Repetitions: 1, IperfSecs: 10,
	SampleInterval: 100 * time.Millisecond,
}

// Parse decodes and validates a spec. Unknown keys are errors (typos show).
func Parse(data []byte) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Resolved returns the spec's parts with inheritance, defaults and (if quick) the quick
// overrides applied: what the plan expands. A spec without parts is one part named after it.
func (s *Spec) Resolved(quick bool) []Part {
	parts := s.Parts
	if len(parts) == 0 {
		parts = []Part{{Name: s.Name}}
	}
	out := make([]Part, 0, len(parts))
	for _, p := range parts {
		r := Part{Name: p.Name}
		r.Sweep = merge(defaultSweep(), s.Sweep, p.Sweep)
		if quick {
			if s.Quick != nil {
				r.Sweep = merge(r.Sweep, *s.Quick)
			}
			if p.Quick != nil {
				r.Sweep = merge(r.Sweep, *p.Quick)
			}
		}
		out = append(out, r)
	}
	return out
}

func defaultSweep() Sweep {
	d := defaults
	return Sweep{
		Workload: nil, CPUModel: List[string]{d.CPUModel}, Policy: List[string]{d.Policy},
		MemoryMB: List[int]{d.MemoryMB}, ChunkMB: List[int]{d.ChunkMB},
		Objects: &d.Objects, Repetitions: &d.Repetitions, IperfSeconds: &d.IperfSecs,
	}
}

// merge returns base with every field a later layer sets replaced. Setting mix clears an
// inherited memory_mb and the other way round: they are two ways of saying the sizes.
func merge(base Sweep, layers ...Sweep) Sweep {
	for _, l := range layers {
		setIf(&base.Workload, l.Workload)
		setIf(&base.CPUModel, l.CPUModel)
		setIf(&base.Policy, l.Policy)
		setIf(&base.NICQueue, l.NICQueue)
		if l.MemoryMB != nil {
			base.MemoryMB, base.Mix = l.MemoryMB, nil
		}
		if l.Mix != nil {
			base.Mix, base.MemoryMB = l.Mix, nil
		}
		setIf(&base.Colocation, l.Colocation)
		setIf(&base.ChunkMB, l.ChunkMB)
		setPtrIf(&base.Objects, l.Objects)
		setPtrIf(&base.Repetitions, l.Repetitions)
		setPtrIf(&base.IperfSeconds, l.IperfSeconds)
	}
	return base
}

// setIf replaces *dst with v when the layer sets v.
func setIf[T any](dst *List[T], v List[T]) {
	if v != nil {
		*dst = v
	}
}

// setPtrIf is setIf for a scalar field.
func setPtrIf[T any](dst **T, v *T) {
	if v != nil {
		*dst = v
	}
}

// Interval is the sampling interval (the default when unset).
func (s *Spec) Interval() time.Duration {
	if s.SampleInterval == 0 {
		return defaults.SampleInterval
	}
	return time.Duration(s.SampleInterval)
}

// Counts is the part's co-location counts: as given, else 1, else one per mix entry.
func (p Part) Counts() []int {
	switch {
	case len(p.Colocation) > 0:
		return p.Colocation
	case len(p.Mix) > 0:
		return []int{len(p.Mix)}
	}
	return []int{1}
}

// HostProfile, HostBackend and WANModel return the spec's value or the default.
func (s *Spec) HostProfile() string { return or(s.Profile, defaults.Profile) }
func (s *Spec) HostBackend() string { return or(s.Backend, defaults.Backend) }
func (s *Spec) WANModel() string    { return or(s.WAN, defaults.WAN) }

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Validate checks every field of the spec and of each part (after inheritance, both
// plain and quick), so a spec that loads is a spec that runs.
func (s *Spec) Validate() error {
	var errs []error
	add := func(field string, value any, allowed string) {
		errs = append(errs, fmt.Errorf("%s: %v: allowed %s", field, value, allowed))
	}
	if s.Name == "" || strings.ContainsFunc(s.Name, badNameRune) {
		add("name", fmt.Sprintf("%q", s.Name), "a non-empty name of letters, digits, - and _")
	}
	oneOf(add, "profile", s.Profile, profiles)
	oneOf(add, "backend", s.Backend, backends)
	oneOf(add, "wan", s.WAN, wanModels)
	if s.SampleInterval != 0 && time.Duration(s.SampleInterval) < MinSampleEvery {
		add("sample_interval", time.Duration(s.SampleInterval), "≥ "+MinSampleEvery.String())
	}
	// nic and fixed_rate on their own, by the daemon's parser (syntax and minimum rate);
	// the policies that use them are checked with them in Part.validate.
	if s.NIC != "" && s.daemonPolicy(shape.PolicySpec{Policy: shape.PolicyNone, NIC: s.NIC}) != nil {
		add("nic", fmt.Sprintf("%q", s.NIC), fmt.Sprintf("a rate of at least %s such as 560mbit or 1gbit, or unlimited", shape.MinRate))
	}
	if s.FixedRate != "" && s.daemonPolicy(shape.PolicySpec{Policy: shape.PolicyFixed, FixedRate: s.FixedRate}) != nil {
		add("fixed_rate", fmt.Sprintf("%q", s.FixedRate), fmt.Sprintf("a rate of at least %s such as 100mbit", shape.MinRate))
	}
	seen := map[string]bool{}
	for i, p := range s.Parts {
		if p.Name == "" || strings.ContainsFunc(p.Name, badNameRune) || seen[p.Name] {
			add(fmt.Sprintf("parts[%d].name", i), fmt.Sprintf("%q", p.Name), "a unique non-empty name of letters, digits, - and _")
		}
		seen[p.Name] = true
	}
	plain, quick := s.Resolved(false), s.Resolved(true)
	for i := range plain {
		field := ""
		if len(s.Parts) > 0 {
			field = "parts[" + fmt.Sprint(i) + "]"
		}
		perrs := plain[i].validate(field, s)
		errs = append(errs, perrs...)
		// Under --quick only what the quick block itself broke is news.
		for _, e := range quick[i].validate(field, s) {
			if !slices.ContainsFunc(perrs, func(p error) bool { return p.Error() == e.Error() }) {
				errs = append(errs, fmt.Errorf("quick: %w", e))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w %q: %w", ErrInvalid, s.Name, errors.Join(dedupe(errs)...))
}

func (p Part) validate(prefix string, s *Spec) []error {
	var errs []error
	add := func(field string, value any, allowed string) {
		errs = append(errs, fmt.Errorf("%s: %v: allowed %s", joinField(prefix, field), value, allowed))
	}
	if len(p.Workload) == 0 {
		add("workload", "(missing)", strings.Join(workloads, ", "))
	}
	for _, w := range p.Workload {
		oneOf(add, "workload", w, workloads)
	}
	for _, v := range p.CPUModel {
		oneOf(add, "cpu_model", v, cpuModels)
	}
	for _, v := range p.Policy {
		oneOf(add, "policy", v, policies)
		if v == "fixed" && s.FixedRate == "" {
			add("policy", v, "only with fixed_rate set")
		}
	}
	for _, v := range p.NICQueue {
		oneOf(add, "nic_queue", v, nicQueues)
	}
	errs = append(errs, p.validatePolicies(prefix, s)...)
	maxMem := MaxMemoryMB
	for _, m := range append(slices.Clone([]int(p.MemoryMB)), p.Mix...) {
		if m < MinMemoryMB || m > maxMem {
			add(fieldOf(p), m, fmt.Sprintf("%d … %d (MB)", MinMemoryMB, maxMem))
		}
	}
	if len(p.MemoryMB) == 0 && len(p.Mix) == 0 {
		add("memory_mb", "(empty)", "at least one size")
	}
	for _, n := range p.Colocation {
		if n < 1 || n > MaxColocation {
			add("colocation", n, fmt.Sprintf("1 … %d", MaxColocation))
		}
	}
	for _, c := range p.ChunkMB {
		if c < 1 || c > MaxChunkMB {
			add("chunk_mb", c, fmt.Sprintf("1 … %d (MB)", MaxChunkMB))
		}
	}
	if n := *p.Objects; n < 1 || n > MaxObjects {
		add("objects", n, fmt.Sprintf("1 … %d", MaxObjects))
	}
	if n := *p.Repetitions; n < 1 || n > MaxRepetitions {
		add("repetitions", n, fmt.Sprintf("1 … %d", MaxRepetitions))
	}
	if n := *p.IperfSeconds; n < 1 || n > MaxIperfSeconds {
		add("iperf_seconds", n, fmt.Sprintf("1 … %d", MaxIperfSeconds))
	}
	return errs
}

func fieldOf(p Part) string {
	if len(p.Mix) > 0 {
		return "mix"
	}
	return "memory_mb"
}

func oneOf(add func(string, any, string), field, v string, allowed []string) {
	if v != "" && !slices.Contains(allowed, v) {
		add(field, fmt.Sprintf("%q", v), strings.Join(allowed, ", "))
	}
}

func joinField(prefix, field string) string {
	if prefix == "" {
		return field
	}
	if field == "" {
		return prefix
	}
	return prefix + "." + field
}

// validatePolicies hands every policy × NIC queue the part sweeps to the daemon's own
// parser, with the spec's nic and fixed_rate as the runner sends them (PolicyOf), so a
// combination the daemon's policy PUT would refuse (equal with nic: unlimited, say) is an
// error here and not mid-run. A value already reported on its own (an unknown policy or
// queue, a bad nic or fixed_rate, fixed without fixed_rate) is not reported again.
func (p Part) validatePolicies(prefix string, s *Spec) []error {
	if s.NIC != "" && s.daemonPolicy(shape.PolicySpec{Policy: shape.PolicyNone, NIC: s.NIC}) != nil ||
		s.FixedRate != "" && s.daemonPolicy(shape.PolicySpec{Policy: shape.PolicyFixed, FixedRate: s.FixedRate}) != nil {
		return nil
	}
	queues := []string(p.NICQueue)
	if len(queues) == 0 {
		queues = []string{""}
	}
	var errs []error
	for _, v := range p.Policy {
		if !slices.Contains(policies, v) || v == "fixed" && s.FixedRate == "" {
			continue
		}
		for _, q := range queues {
			if q != "" && !slices.Contains(nicQueues, q) {
				continue
			}
			if err := s.daemonPolicy(s.PolicyOf(v, q)); err != nil {
				nic := fmt.Sprintf("nic %q", s.NIC)
				if s.NIC == "" {
					nic = "the NIC of profile " + s.HostProfile()
				}
				errs = append(errs, fmt.Errorf("%s: %q with %s: the daemon refuses it: %w", joinField(prefix, "policy"), v, nic, err))
			}
		}
	}
	return errs
}

// PolicyOf is the policy document a spec's policy name (one of policies) and NIC queue
// stand for, as trials carry it to the daemon: proportional-strict is proportional with
// strict set, fixed carries fixed_rate, and nic is the spec's ("" = the daemon's profile
// NIC). Planning and validation both go through it.
func (s *Spec) PolicyOf(policy, queue string) shape.PolicySpec {
	ps := shape.PolicySpec{Policy: policy, NIC: s.NIC, NICQueue: queue}
	switch policy {
	case "proportional-strict":
		ps.Policy, ps.Strict = shape.PolicyProportional, true
	case "fixed":
		ps.FixedRate = s.FixedRate
	}
	return ps
}

// daemonPolicy is the daemon's verdict on ps (shape.ParsePolicyConfig, as its policy PUT
// runs it), an empty NIC being the NIC of the spec's host profile.
func (s *Spec) daemonPolicy(ps shape.PolicySpec) error {
	nic := int64(1e9) // an unknown profile is reported on its own
	if prof, err := sandbox.LookupProfile(s.HostProfile()); err == nil {
		nic = prof.NICBitsPerSec
	}
	_, err := shape.ParsePolicyConfig(ps, nic)
	return err
}

func badNameRune(r rune) bool {
	return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
}

// dedupe drops repeated messages (a top-level error shows once, not once per part).
func dedupe(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, e := range errs {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out
}
