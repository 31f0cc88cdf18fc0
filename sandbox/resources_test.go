package sandbox

import "testing"

func TestPaperModelMatchesThePaper(t *testing.T) {
	p := DefaultHostProfile()
	cases := []struct {
		memoryMB  int
		wantQuota int64
		wantCPUs  float64
	}{
		{128, 8500, 0.085},
		{256, 17000, 0.17},
		{1024, 68100, 0.681},
		{3008, 200000, 2.0},
	}
	for _, c := range cases {
		r, err := p.ResourcesFor(CPUModelPaper, c.memoryMB)
		if err != nil {
			t.Fatal(err)
		}
		if r.CPUQuotaUs != c.wantQuota || r.CPUPeriodUs != 100000 || r.CPUs != c.wantCPUs {
			t.Errorf("%d MB: got %v CPUs quota %d/%d, want %v CPUs quota %d/100000",
				c.memoryMB, r.CPUs, r.CPUQuotaUs, r.CPUPeriodUs, c.wantCPUs, c.wantQuota)
		}
		if r.MemoryBytes != int64(c.memoryMB)<<20 {
			t.Errorf("%d MB: memory %d bytes", c.memoryMB, r.MemoryBytes)
		}
	}
}

func TestLambdaModel(t *testing.T) {
	p := MustProfile("m5.2xlarge")
	r, err := p.ResourcesFor(CPUModelLambda, 1769)
	if err != nil {
		t.Fatal(err)
	}
	if r.CPUs != 1 || r.CPUQuotaUs != 100000 {
		t.Errorf("1769 MB: %v CPUs quota %d, want 1 CPU 100000", r.CPUs, r.CPUQuotaUs)
	}
	r, _ = p.ResourcesFor(CPUModelLambda, 10240)
	if r.CPUs != 5.789 {
		t.Errorf("10240 MB: %v CPUs, want 5.789", r.CPUs)
	}
}

func TestMemoryOutsideProfileIsRejected(t *testing.T) {
	p := DefaultHostProfile()
	for _, mb := range []int{0, 127, 3009, -1} {
		if _, err := p.ResourcesFor(CPUModelPaper, mb); err == nil {
			t.Errorf("%d MB accepted", mb)
		}
	}
	if _, err := LookupProfile("nope"); err == nil {
		t.Error("unknown profile accepted")
	}
	if _, err := ParseCPUModel("fast"); err == nil {
		t.Error("unknown CPU model accepted")
	}
}

func TestHostResources(t *testing.T) {
	h := DefaultHostProfile().HostResources()
	if h.CPUQuotaUs != 200000 || h.MemoryBytes != 3840<<20 {
		t.Errorf("host: %+v", h)
	}
}
