package netshape

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{}.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"name":      {c.Name, "faaslab"},
		"bridge":    {c.Bridge, "faaslab0"},
		"subnet":    {c.Subnet.String(), "10.201.0.0/16"},
		"remote":    {c.RemoteNetNS, "faaslab-remote"},
		"gateway":   {c.GatewayAddr().String(), "10.201.0.1"},
		"remote ip": {c.RemoteAddr().String(), "10.201.255.254"},
		"mtu":       {fmt.Sprint(c.MTU), "1500"},
		"uplink":    {c.UplinkHostName(), "faaslab-up"},
	}
	for what, gw := range checks {
		if gw[0] != gw[1] {
			t.Errorf("%s = %q, want %q", what, gw[0], gw[1])
		}
	}
}

func TestConfigDerivesNamesFromPrefix(t *testing.T) {
	c := Config{Name: "faaslabt3f9", Subnet: netip.MustParsePrefix("10.250.7.9/24")}.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Bridge != "faaslabt3f90" || c.RemoteNetNS != "faaslabt3f9-remote" || c.UplinkRemoteName() != "faaslabt3f9-rm" {
		t.Fatalf("derived names: bridge %q remote %q rm %q", c.Bridge, c.RemoteNetNS, c.UplinkRemoteName())
	}
	if c.Subnet.String() != "10.250.7.0/24" || c.GatewayAddr().String() != "10.250.7.1" || c.RemoteAddr().String() != "10.250.7.254" {
		t.Fatalf("subnet %s gateway %s remote %s", c.Subnet, c.GatewayAddr(), c.RemoteAddr())
	}
}

func TestConfigValidateRejects(t *testing.T) {
	bad := []Config{
		{Name: "other"},
		{Name: "faaslab-x"},
		{Name: "faaslabtoolong"},
		{Bridge: "this-name-is-too-long"},
		{Subnet: netip.MustParsePrefix("10.0.0.0/30")},
		{Subnet: netip.MustParsePrefix("fd00::/64")},
		{RemoteNetNS: "a/b"},
		{MTU: 100},
		// Reap deletes these by name: never another program's.
		{Bridge: "docker0"},
		{RemoteNetNS: "default"},
	}
	for _, c := range bad {
		if err := c.WithDefaults().Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidConfig", c, err)
		}
	}
}

func TestVethNames(t *testing.T) {
	for _, prefix := range []string{"faaslab", "faaslabt3f9"} {
		c := Config{Name: prefix}.WithDefaults()
		seen := map[string]bool{}
		for i := range 200 {
			n := c.vethName(fmt.Sprintf("faaslab-sb-%d", i), 0)
			if len(n) != 15 || !strings.HasPrefix(n, prefix) || !c.isVethName(n) || !c.ownsLink(n, 7, 7) {
				t.Fatalf("vethName = %q: want 15 characters, prefix %q, recognised as ours", n, prefix)
			}
			seen[n] = true
		}
		if len(seen) < 190 {
			t.Fatalf("prefix %s: only %d distinct names for 200 ids", prefix, len(seen))
		}
		if c.vethName("x", 0) == c.vethName("x", 1) {
			t.Fatal("salt does not change the name")
		}
		if c.vethName("x", 0) != c.vethName("x", 0) {
			t.Fatal("vethName is not deterministic")
		}
	}
}

func TestOwnsLinkIsScoped(t *testing.T) {
	def := Config{}.WithDefaults()
	test := Config{Name: "faaslabt3f9"}.WithDefaults()
	const ours, theirs = 7, 9 // bridge indexes: this Config's, another prefix's
	cases := []struct {
		c      Config
		name   string
		master int
		want   bool
	}{
		{def, "faaslab0", 0, true},
		{def, "faaslab-up", 0, true},
		{def, "faaslab0123abcd", ours, true},
		// The same name is a veth of prefix "faaslab0" too: on its bridge, it is not ours.
		{def, "faaslab0123abcd", theirs, false},
		{def, "faaslab0123abcd", 0, false},
		{def, "faaslabt3f9-up", 0, false}, // another prefix's uplink
		{def, "faaslabt3f9abcd", ours, false},
		{def, "faaslab0123abcg", ours, false},
		{def, "docker0", 0, false},
		{test, "faaslabt3f90", 0, true},
		{test, "faaslabt3f9-up", 0, true},
		{test, "faaslabt3f9abcd", ours, true},
		{test, "faaslab0", 0, false},
		{test, "faaslab-up", 0, false},
		{test, "faaslab0123abcd", ours, false},
	}
	for _, c := range cases {
		if got := c.c.ownsLink(c.name, c.master, ours); got != c.want {
			t.Errorf("Config{Name:%q}.ownsLink(%q, master %d) = %v, want %v", c.c.Name, c.name, c.master, got, c.want)
		}
	}
	// A Config without its bridge (already gone) owns no veth by name.
	if def.ownsLink("faaslab0123abcd", 0, 0) {
		t.Error("a veth-shaped name owned without a bridge to be its master")
	}
}

func TestTaggedRules(t *testing.T) {
	listing := `-P FORWARD DROP
-A FORWARD -i faaslabt1230 -m comment --comment faaslab:faaslabt1230 -j ACCEPT
-A FORWARD -o faaslabt1230 -m comment --comment "faaslab:faaslabt1230" -j ACCEPT
-A FORWARD -i faaslab0 -m comment --comment faaslab:faaslab0 -j ACCEPT
-A FORWARD -j DOCKER-USER
`
	got := taggedRules(listing, "faaslab:faaslabt1230")
	if len(got) != 2 {
		t.Fatalf("taggedRules = %q, want the 2 rules of faaslabt1230", got)
	}
	for i, dir := range []string{"-i", "-o"} {
		if want := dir + " faaslabt1230 -m comment --comment faaslab:faaslabt1230 -j ACCEPT"; strings.Join(got[i], " ") != want {
			t.Fatalf("rule spec = %q, want %q (unquoted)", got[i], want)
		}
	}
}
