package shape

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func testMembers(n int) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{
			SandboxID: fmt.Sprintf("sb-%02d", i), Function: fmt.Sprintf("fn%d", i%3),
			MemoryMB: 128 * (i%4 + 1), IP: netip.AddrFrom4([4]byte{10, 9, 0, byte(10 + i)}),
		}
	}
	return ms
}

func memberRates(dp DirectionPlan) (sum uint64, rates []uint64) {
	for _, c := range dp.Classes {
		if c.Kind == KindMember {
			sum += c.RateBitsPerSec
			rates = append(rates, c.RateBitsPerSec)
		}
	}
	return sum, rates
}

func defaultClass(t *testing.T, dp DirectionPlan) Class {
	t.Helper()
	for _, c := range dp.Classes {
		if c.Kind == KindDefault {
			return c
		}
	}
	t.Fatalf("%s: no default class", dp.Direction)
	return Class{}
}

func TestParsePolicy(t *testing.T) {
	for _, in := range []string{"none", " Equal ", "PROPORTIONAL", "netprio"} {
		if _, err := ParsePolicy(in); err != nil {
			t.Errorf("ParsePolicy(%q): %v", in, err)
		}
	}
	_, err := ParsePolicy("fair")
	if !errors.Is(err, ErrUnknownPolicy) || !strings.Contains(err.Error(), "proportional") {
		t.Fatalf("ParsePolicy(fair) = %v, want ErrUnknownPolicy listing the choices", err)
	}
}

func TestValidate(t *testing.T) {
	bad := []PolicyConfig{
		{Name: "equal"},                       // no cap
		{Name: "proportional"},                // no cap
		{Name: "fixed", NICBitsPerSec: 1e9},   // no rate
		{Name: "none", NICBitsPerSec: -1},     // negative
		{Name: "netprio"},                     // neither
		{Name: "fixed", FixedBitsPerSec: 100}, // below minimum
	}
	for _, p := range bad {
		if err := p.Validate(); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidPolicy", p, err)
		}
	}
	good := []PolicyConfig{
		{Name: "none"}, {Name: "none", NICBitsPerSec: 1e9}, {Name: "fixed", FixedBitsPerSec: 1e7},
		{Name: "equal", NICBitsPerSec: 1e8}, {Name: "netprio", FixedBitsPerSec: 1e7},
	}
	for _, p := range good {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", p, err)
		}
	}
}

func TestMemberValidation(t *testing.T) {
	ms := testMembers(2)
	ms[1].SandboxID = ms[0].SandboxID
	if _, err := Build(PolicyConfig{Name: "equal", NICBitsPerSec: 1e8}, ms); !errors.Is(err, ErrInvalidMember) {
		t.Errorf("duplicate ids: %v", err)
	}
	ms = testMembers(1)
	ms[0].IP = netip.MustParseAddr("fd00::1")
	if _, err := Build(PolicyConfig{Name: "equal", NICBitsPerSec: 1e8}, ms); !errors.Is(err, ErrInvalidMember) {
		t.Errorf("ipv6: %v", err)
	}
	ms = testMembers(1)
	ms[0].Priority = 8
	if _, err := Build(PolicyConfig{Name: "priority", NICBitsPerSec: 1e8}, ms); !errors.Is(err, ErrInvalidMember) {
		t.Errorf("prio 8: %v", err)
	}
	ms = testMembers(1)
	ms[0].MemoryMB = 0
	if _, err := Build(PolicyConfig{Name: "proportional", NICBitsPerSec: 1e8}, ms); !errors.Is(err, ErrInvalidMember) {
		t.Errorf("memory 0: %v", err)
	}
}

func TestRatesSumToCap(t *testing.T) {
	for _, name := range []string{"equal", "proportional"} {
		for _, n := range []int{1, 2, 3, 7, 26} {
			for _, capBits := range []int64{10e6, 100e6, 1e9, 9_999_999_999} {
				p := PolicyConfig{Name: name, NICBitsPerSec: capBits}
				plan, err := Build(p, testMembers(n))
				if err != nil {
					t.Fatal(err)
				}
				for _, dp := range []DirectionPlan{plan.Upload, plan.Download} {
					sum, rates := memberRates(dp)
					if len(rates) != n {
						t.Fatalf("%s n=%d: %d member classes", name, n, len(rates))
					}
					def := defaultClass(t, dp)
					if got := sum + def.RateBitsPerSec; got != uint64(capBits) {
						t.Errorf("%s n=%d cap=%d %s: Σ rates = %d, want the cap", name, n, capBits, dp.Direction, got)
					}
					if def.RateBitsPerSec > uint64(capBits)/100+uint64(n) {
						t.Errorf("%s: catch-all class takes %d of %d", name, def.RateBitsPerSec, capBits)
					}
					for _, c := range dp.Classes {
						if c.Kind == KindMember && c.CeilBitsPerSec != uint64(capBits) {
							t.Errorf("%s: work-conserving ceil %d, want cap", name, c.CeilBitsPerSec)
						}
					}
				}
			}
		}
	}
}

func TestProportionalShares(t *testing.T) {
	ms := testMembers(4) // memory 128, 256, 384, 512
	for _, strict := range []bool{false, true} {
		plan, err := Build(PolicyConfig{Name: "proportional", NICBitsPerSec: 1e9, Strict: strict}, ms)
		if err != nil {
			t.Fatal(err)
		}
		var base, baseQ float64
		for i, m := range ms {
			c, ok := plan.Upload.MemberClass(m.SandboxID)
			if !ok {
				t.Fatalf("no class for %s", m.SandboxID)
			}
			if i == 0 {
				base, baseQ = float64(c.RateBitsPerSec), float64(c.QuantumBytes)
			}
			if r := float64(c.RateBitsPerSec) / base; math.Abs(r-float64(i+1)) > 1e-6 {
				t.Errorf("rate ratio %d = %.6f, want %d", i, r, i+1)
			}
			if q := float64(c.QuantumBytes) / baseQ; math.Abs(q-float64(i+1)) > 1e-6 {
				t.Errorf("quantum ratio %d = %.6f, want %d", i, q, i+1)
			}
			if strict && c.CeilBitsPerSec != c.RateBitsPerSec {
				t.Errorf("strict: ceil %d != rate %d", c.CeilBitsPerSec, c.RateBitsPerSec)
			}
		}
	}
}

func TestBurstAndQuantumRules(t *testing.T) {
	for _, rate := range []uint64{8000, 1e6, 10e6, 100e6, 524_288_000, 1e9, 10e9, 40e9} {
		b := BurstBytes(rate)
		if b < 64<<10 || uint64(b) < rate/8/1000 {
			t.Errorf("BurstBytes(%d) = %d, want ≥ max(64 KiB, rate×1ms)", rate, b)
		}
	}
	if QuantumBytes(1, 1) != 64<<10 || QuantumBytes(3008, 128) < 64<<10*23 || QuantumBytes(1e6, 1) != 16<<20 {
		t.Errorf("quantum rules: %d %d %d", QuantumBytes(1, 1), QuantumBytes(3008, 128), QuantumBytes(1e6, 1))
	}
	for _, name := range []string{"fixed", "equal", "proportional", "priority", "netprio", "none"} {
		plan, err := Build(PolicyConfig{Name: name, NICBitsPerSec: 1e9, FixedBitsPerSec: 50e6}, testMembers(5))
		if err != nil {
			t.Fatal(err)
		}
		for _, dp := range []DirectionPlan{plan.Upload, plan.Download} {
			for _, c := range dp.Classes {
				if c.QuantumBytes < 64<<10 || c.BurstBytes != BurstBytes(c.RateBitsPerSec) || c.CburstBytes != BurstBytes(c.CeilBitsPerSec) {
					t.Errorf("%s %s class %s: quantum %d burst %d cburst %d", name, dp.Direction, FormatHandle(c.ClassID), c.QuantumBytes, c.BurstBytes, c.CburstBytes)
				}
				if c.CeilBitsPerSec < c.RateBitsPerSec || c.CeilBitsPerSec > 1e9 {
					t.Errorf("%s: class %s rate %d ceil %d", name, FormatHandle(c.ClassID), c.RateBitsPerSec, c.CeilBitsPerSec)
				}
			}
		}
	}
}

func TestFixed(t *testing.T) {
	// Unlimited NIC: rate = ceil = fixed, leaves directly under the qdisc, no catch-all.
	plan, err := Build(PolicyConfig{Name: "fixed", FixedBitsPerSec: 20e6}, testMembers(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, dp := range []DirectionPlan{plan.Upload, plan.Download} {
		if dp.Qdisc == nil || dp.Qdisc.DefaultMinor != 0 || len(dp.Classes) != 3 || len(dp.Filters) != 3 {
			t.Fatalf("%s: %+v", dp.Direction, dp)
		}
		for _, c := range dp.Classes {
			if c.RateBitsPerSec != 20e6 || c.CeilBitsPerSec != 20e6 || c.ParentID != dp.Qdisc.Handle {
				t.Errorf("class %+v", c)
			}
		}
		for _, f := range dp.Filters {
			if f.MatchSrc != (dp.Direction == Upload) {
				t.Errorf("%s filter matches src=%v", dp.Direction, f.MatchSrc)
			}
		}
	}
	// A cap smaller than N × fixed: guaranteed rates shrink so Σ ≤ cap.
	plan, err = Build(PolicyConfig{Name: "fixed", FixedBitsPerSec: 50e6, NICBitsPerSec: 100e6}, testMembers(4))
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := memberRates(plan.Upload)
	if sum > 100e6 {
		t.Errorf("fixed oversubscribes the NIC: Σ = %d", sum)
	}
	c, _ := plan.Upload.MemberClass("sb-00")
	if c.CeilBitsPerSec != 50e6 {
		t.Errorf("ceil %d, want the fixed rate", c.CeilBitsPerSec)
	}
}

func TestNoneAndPriorityAndNetprio(t *testing.T) {
	plan, err := Build(PolicyConfig{Name: "none"}, testMembers(3))
	if err != nil || plan.Upload.Qdisc != nil || plan.Download.Qdisc != nil {
		t.Fatalf("none unlimited should shape nothing: %+v %v", plan, err)
	}
	plan, err = Build(PolicyConfig{Name: "none", NICBitsPerSec: 1e9, NICQueue: "fifo"}, testMembers(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Upload.Classes) != 2 || len(plan.Upload.Filters) != 0 || defaultClass(t, plan.Upload).RateBitsPerSec != 1e9 {
		t.Errorf("none: %+v", plan.Upload)
	}
	ms := testMembers(3)
	for i := range ms {
		ms[i].Priority = i * 3
	}
	plan, err = Build(PolicyConfig{Name: "priority", NICBitsPerSec: 1e9}, ms)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		c, _ := plan.Download.MemberClass(m.SandboxID)
		if c.Prio != uint32(m.Priority) || c.CeilBitsPerSec != 1e9 {
			t.Errorf("priority class %+v for member prio %d", c, m.Priority)
		}
	}
	plan, err = Build(PolicyConfig{Name: "netprio", NICBitsPerSec: 1e9}, ms)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Upload.Filters) != 0 || len(plan.SkbPriority) != 3 || len(plan.Download.Classes) != 2 {
		t.Fatalf("netprio: %+v", plan)
	}
	for id, prio := range plan.SkbPriority {
		c, ok := plan.Upload.MemberClass(id)
		if !ok || c.ClassID != prio {
			t.Errorf("skb priority %x of %s does not name its class %+v", prio, id, c)
		}
	}
}

func TestDeterministicClassIDs(t *testing.T) {
	p := PolicyConfig{Name: "equal", NICBitsPerSec: 1e9}
	ms := testMembers(26)
	want, err := Build(p, ms)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := append([]Member(nil), ms...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, err := Build(p, shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatal("plan depends on member order")
		}
	}
	ids := map[uint32]bool{}
	for _, c := range want.Upload.Classes {
		if ids[c.ClassID] {
			t.Fatalf("duplicate classid %s", FormatHandle(c.ClassID))
		}
		ids[c.ClassID] = true
		if c.Kind == KindMember {
			f := want.Upload.Filters[0]
			for _, ff := range want.Upload.Filters {
				if ff.SandboxID == c.SandboxID {
					f = ff
				}
			}
			if f.ClassID != c.ClassID || f.Handle&0xfff != c.ClassID&0xfff {
				t.Errorf("filter %+v does not match class %s", f, FormatHandle(c.ClassID))
			}
		}
	}
}

func TestRebuildKeepsClassIDs(t *testing.T) {
	p := PolicyConfig{Name: "equal", NICBitsPerSec: 1e9}
	ms := testMembers(10)
	first, err := Build(p, ms)
	if err != nil {
		t.Fatal(err)
	}
	// Remove three, add five new ones: the seven that stay keep their class ids.
	next := append(append([]Member(nil), ms[3:]...), testMembersFrom(100, 5)...)
	second, err := Rebuild(first, p, next)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[3:] {
		a, _ := first.Upload.MemberClass(m.SandboxID)
		b, ok := second.Upload.MemberClass(m.SandboxID)
		if !ok || a.ClassID != b.ClassID {
			t.Errorf("%s moved from %s to %s", m.SandboxID, FormatHandle(a.ClassID), FormatHandle(b.ClassID))
		}
	}
	for _, m := range ms[:3] {
		if _, ok := second.Upload.MemberClass(m.SandboxID); ok {
			t.Errorf("removed %s still has a class", m.SandboxID)
		}
	}
}

func testMembersFrom(start, n int) []Member {
	ms := testMembers(start + n)[start:]
	for i := range ms {
		ms[i].SandboxID = fmt.Sprintf("new-%d", start+i)
	}
	return ms
}

func TestTooSmallCap(t *testing.T) {
	if _, err := Build(PolicyConfig{Name: "equal", NICBitsPerSec: 100_000}, testMembers(26)); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("want ErrInvalidPolicy for 26 sandboxes on 100 kbit/s, got %v", err)
	}
}

func TestDiffKernel(t *testing.T) {
	plan, err := Build(PolicyConfig{Name: "equal", NICBitsPerSec: 1e9}, testMembers(3))
	if err != nil {
		t.Fatal(err)
	}
	got := plan.Upload
	got.Classes = append([]Class(nil), got.Classes...)
	if d := DiffKernel(plan.Upload, got); len(d) != 0 {
		t.Fatalf("identical plans differ: %v", d)
	}
	got.Classes[2].BurstBytes += 100 // within tolerance
	if d := DiffKernel(plan.Upload, got); len(d) != 0 {
		t.Fatalf("tolerance: %v", d)
	}
	got.Classes[2].RateBitsPerSec++
	got.Filters = got.Filters[1:]
	if d := DiffKernel(plan.Upload, got); len(d) != 2 {
		t.Fatalf("want 2 differences, got %v", d)
	}
}

func TestPriorityForMemory(t *testing.T) {
	for mb, want := range map[int]int{128: 7, 255: 7, 256: 6, 512: 5, 1024: 4, 2048: 3, 3008: 3, 10240: 1} {
		if got := PriorityForMemory(mb); got != want {
			t.Errorf("PriorityForMemory(%d) = %d, want %d", mb, got, want)
		}
	}
}
