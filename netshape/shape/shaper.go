package shape

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrClosed is returned by a Shaper after Close.
var ErrClosed = errors.New("shaper is closed")

// Links names the two ends of the emulated NIC (the uplink veth pair).
type Links struct {
	// UplinkHost is the bridge-side end; its egress is the upload direction.
	UplinkHost string
	// UplinkRemote is the end inside the remote netns; its egress is download.
	UplinkRemote string
	// RemoteNetNS is the path of the remote netns, e.g. /run/netns/faaslab-remote.
	RemoteNetNS string
	// HostNetNS optionally names the netns holding UplinkHost ("" = the
	// daemon's own); tests and benchmarks use a throwaway one.
	HostNetNS string
}

// Shaper applies shaping plans to the uplink and keeps them current as
// sandboxes come and go. It is safe for concurrent use.
type Shaper struct {
	mu       sync.Mutex
	logger   *slog.Logger
	devs     map[Direction]*device
	policy   PolicyConfig
	members  []Member
	plan     Plan                        // wanted
	applied  map[Direction]DirectionPlan // believed to be in the kernel
	counters ledger                      // per-function sent bytes and drops, deleted classes included
	closed   bool
}

type metricKey struct {
	function  string
	direction Direction
}

// ForgetFunction drops the counters kept for a function that is gone (deleted, no sandbox
// left), so that its series end; a function with a class still in place keeps them.
func (s *Shaper) ForgetFunction(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters.forget(name)
}

// New opens both uplink ends, checks that the kernel can do the policy,
// and applies it with no members yet (the NIC cap only). reg may be nil.
func New(links Links, policy PolicyConfig, reg prometheus.Registerer, logger *slog.Logger) (*Shaper, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	policy, err := resolvePolicy(policy)
	if err != nil {
		return nil, err
	}
	up, err := openDevice(Upload, links.UplinkHost, links.HostNetNS)
	if err != nil {
		return nil, err
	}
	down, err := openDevice(Download, links.UplinkRemote, links.RemoteNetNS)
	if err != nil {
		up.h.Close()
		return nil, err
	}
	s := &Shaper{
		logger: logger, policy: policy,
		devs:     map[Direction]*device{Upload: up, Download: down},
		applied:  map[Direction]DirectionPlan{},
		counters: newLedger(),
	}
	// Remove a root HTB left by a crashed run so the first apply starts clean.
	for _, d := range s.devs {
		if err := d.delRootQdisc(); err != nil {
			s.closeHandles()
			return nil, err
		}
	}
	s.mu.Lock()
	err = s.applyLocked(policy, nil)
	s.mu.Unlock()
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	if reg != nil {
		if err := reg.Register(&collector{s: s}); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("register shaping metrics: %w", err)
		}
	}
	return s, nil
}

// Update re-applies the policy for a new set of members. Only the classes
// and filters that differ are touched: sandboxes that stay keep their class
// (rates changed in place), so their flows are not disturbed.
func (s *Shaper) Update(members []Member) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.applyLocked(s.policy, members)
}

// SetPolicy switches policy for the current members. The root qdisc is
// rebuilt only when its own parameters change (NIC cap set ↔ unlimited).
func (s *Shaper) SetPolicy(policy PolicyConfig) error {
	if err := policy.Validate(); err != nil {
		return err
	}
	policy, err := resolvePolicy(policy)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.applyLocked(policy, s.members)
}

// resolvePolicy checks the policy against the kernel and picks the NIC queue
// model in force (NICQueue "fair" → fq_codel, sfq or flowhash).
func resolvePolicy(policy PolicyConfig) (PolicyConfig, error) {
	f := DetectFeatures()
	if err := f.Check(policy); err != nil {
		return policy, err
	}
	return f.ResolveNICQueue(policy)
}

// Policy returns the current policy; its NICQueue is the model in force.
func (s *Shaper) Policy() PolicyConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// Plan returns the plan last applied (e.g. SkbPriority for netprio).
func (s *Shaper) Plan() Plan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.plan
}

// Dump reads the qdiscs, classes and filters back from the kernel, labelled
// with the sandbox each class belongs to.
func (s *Shaper) Dump() (Plan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Plan{}, ErrClosed
	}
	out := Plan{Policy: s.policy, SkbPriority: s.plan.SkbPriority}
	for dir, d := range s.devs {
		dp, err := d.readBack()
		if err != nil {
			return Plan{}, err
		}
		annotate(&dp, s.applied[dir])
		if dir == Upload {
			out.Upload = dp
		} else {
			out.Download = dp
		}
	}
	return out, nil
}

// Close removes every qdisc the shaper made (and with them all classes and
// filters) and releases its netlink handles. Safe to call twice.
func (s *Shaper) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, d := range s.devs {
		errs = append(errs, d.delRootQdisc())
	}
	s.closeHandles()
	return errors.Join(errs...)
}

func (s *Shaper) closeHandles() {
	for _, d := range s.devs {
		d.h.Close()
	}
}

// applyLocked builds the plan and converges both devices to it.
func (s *Shaper) applyLocked(policy PolicyConfig, members []Member) error {
	plan, err := Rebuild(s.plan, policy, members)
	if err != nil {
		return err
	}
	var errs []error
	for _, dir := range []Direction{Upload, Download} {
		d := s.devs[dir]
		got, err := s.converge(d, s.applied[dir], plan.Direction(dir))
		if err != nil {
			// Resynchronise from the kernel so the next call diffs against reality.
			// Classes keep whose they are: what converge knows is there (a class whose
			// delete failed is still its old sandbox's), else what was wanted.
			if rb, rerr := d.readBack(); rerr == nil {
				annotate(&rb, plan.Direction(dir))
				annotate(&rb, got)
				got = rb
			}
			errs = append(errs, err)
		}
		s.applied[dir] = got
		s.counters.settle(dir, got.Classes)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("apply %s shaping: %w", policy.name(), err)
	}
	s.policy, s.plan, s.members = plan.Policy, plan, slices.Clone(members)
	s.logger.Debug("shaping applied", "policy", plan.Policy.Name, "members", len(members),
		"upload_classes", len(plan.Upload.Classes), "download_classes", len(plan.Download.Classes))
	return nil
}

// converge changes device d from cur to want with the fewest tc operations.
func (s *Shaper) converge(d *device, cur, want DirectionPlan) (DirectionPlan, error) {
	// A different NIC queue model (leaf qdisc, flow-hash buckets) rebuilds the
	// device: it changes only with the policy, never with membership.
	if want.Qdisc == nil || cur.Qdisc == nil || *want.Qdisc != *cur.Qdisc || !sameQueue(want, cur) {
		if cur.Qdisc != nil {
			s.readBeforeDelete(d, cur.Classes)
			if err := d.delRootQdisc(); err != nil {
				return cur, err
			}
		}
		cur = DirectionPlan{Direction: want.Direction}
		if want.Qdisc == nil {
			return cur, nil
		}
		if err := d.addQdisc(*want.Qdisc); err != nil {
			return cur, err
		}
		cur.Qdisc = want.Qdisc
	}
	wantClasses := indexClasses(want.Classes)
	recreate := map[uint32]bool{} // classes to delete (gone or owned by someone else now)
	for _, c := range cur.Classes {
		w, ok := wantClasses[c.ClassID]
		if !ok || w.ParentID != c.ParentID || w.SandboxID != c.SandboxID || w.Kind != c.Kind {
			recreate[c.ClassID] = true
		}
	}
	wantFilters := indexFilters(want.Filters)
	var keptFilters []Filter
	for _, f := range cur.Filters {
		w, ok := wantFilters[f.Handle]
		if ok && sameFilter(w, f) && w.SandboxID == f.SandboxID && !recreate[f.ClassID] {
			keptFilters = append(keptFilters, f)
			continue
		}
		// Filters go first: HTB refuses to delete a class a filter points to.
		if err := d.delFilter(f); err != nil {
			return DirectionPlan{Direction: cur.Direction, Qdisc: cur.Qdisc, Classes: cur.Classes, Filters: append(keptFilters, f)}, err
		}
	}
	cur.Filters = keptFilters
	var retired []Class
	var keptClasses []Class
	for _, c := range cur.Classes {
		if recreate[c.ClassID] {
			retired = append(retired, c)
		} else {
			keptClasses = append(keptClasses, c)
		}
	}
	s.readBeforeDelete(d, retired)
	for i := len(retired) - 1; i >= 0; i-- { // children before parents
		if err := d.delClass(retired[i]); err != nil {
			cur.Classes = append(keptClasses, retired[:i+1]...)
			return cur, err
		}
	}
	cur.Classes = keptClasses
	curClasses := indexClasses(cur.Classes)
	for _, w := range want.Classes { // parents first
		c, ok := curClasses[w.ClassID]
		switch {
		case !ok:
			if err := d.addClass(w); err != nil {
				return cur, err
			}
			cur.Classes = append(cur.Classes, w)
		case !sameClassParams(c, w):
			if err := d.changeClass(w); err != nil {
				return cur, err
			}
			replaceClass(cur.Classes, w)
		}
	}
	curFilters := indexFilters(cur.Filters)
	for _, w := range want.Filters {
		if _, ok := curFilters[w.Handle]; ok {
			continue
		}
		if err := d.addFilter(w); err != nil {
			return cur, err
		}
		cur.Filters = append(cur.Filters, w)
	}
	if cur.Leaf == nil && cur.FlowHash == nil && (want.Leaf != nil || want.FlowHash != nil) {
		if err := d.addQueue(want); err != nil {
			return cur, err
		}
		cur.Leaf, cur.FlowHash = want.Leaf, want.FlowHash
	}
	sortPlan(&cur)
	return cur, nil
}

func indexClasses(cs []Class) map[uint32]Class {
	m := make(map[uint32]Class, len(cs))
	for _, c := range cs {
		m[c.ClassID] = c
	}
	return m
}

func indexFilters(fs []Filter) map[uint32]Filter {
	m := make(map[uint32]Filter, len(fs))
	for _, f := range fs {
		m[f.Handle] = f
	}
	return m
}

func replaceClass(cs []Class, w Class) {
	for i := range cs {
		if cs[i].ClassID == w.ClassID {
			cs[i] = w
		}
	}
}

// readBeforeDelete reads the counters of classes about to be deleted; settle moves them
// to the retired totals once the delete succeeded. A failed read is logged: the last
// read stands in.
func (s *Shaper) readBeforeDelete(d *device, classes []Class) {
	if len(classes) == 0 {
		return
	}
	stats, err := d.listClasses()
	if err != nil {
		s.logger.Warn("read class stats before delete", "device", d.name, "err", err)
		return
	}
	byID := indexClasses(classes)
	for _, k := range stats {
		c, ok := byID[k.Handle]
		if !ok {
			continue
		}
		if n, ok := classCountersOf(k); ok {
			s.counters.observe(d.dir, c, n)
		}
	}
}
