// Package wan models the Internet between a function and its object store (§IV of the
// paper: access to S3 may cross the public Internet): a round-trip time and a rate per
// connection, carried by the store's own listener (Listener, Proxy): pure Go, so it works
// on every kernel, with or without netem.
package wan

import (
	"errors"
	"fmt"
	"time"

	"github.com/faaslab/faaslab/netshape/shape"
)

// Implementations of the model, as GET /faaslab/v1/services and `faaslab doctor` name them.
const (
	ImplOff      = "off"
	ImplListener = "listener" // the store's listener delays and paces each connection
)

// ErrBadConfig marks a WAN setting that cannot be used.
var ErrBadConfig = errors.New("bad WAN setting")

// Config is services.wan in the daemon config. Zero RTT and empty rate: off.
type Config struct {
	RTT               time.Duration `yaml:"rtt"`                 // round-trip time added on the path to the store, e.g. 40ms
	RatePerConnection string        `yaml:"rate_per_connection"` // cap of each connection in each direction, e.g. 100mbit ("" = none)
}

// Model is a parsed Config.
type Model struct {
	RTT        time.Duration
	BitsPerSec int64 // 0 = no cap
}

// Enabled reports whether the model changes anything.
func (m Model) Enabled() bool { return m.RTT > 0 || m.BitsPerSec > 0 }

// Parse validates c, naming the offending field.
func (c Config) Parse() (Model, error) {
	m := Model{RTT: c.RTT}
	if c.RTT < 0 || c.RTT > time.Minute {
		return m, fmt.Errorf("%w: services.wan.rtt %s: want 0 to 1m", ErrBadConfig, c.RTT)
	}
	if c.RatePerConnection != "" {
		bits, err := shape.ParseBits(c.RatePerConnection)
		if err != nil {
			return m, fmt.Errorf("%w: services.wan.rate_per_connection: %v", ErrBadConfig, err)
		}
		if bits > 0 && bits < shape.MinRateBitsPerSec {
			return m, fmt.Errorf("%w: services.wan.rate_per_connection %q: want at least %s (or empty for no cap)", ErrBadConfig, c.RatePerConnection, shape.MinRate)
		}
		m.BitsPerSec = bits
	}
	return m, nil
}

// Impl names the implementation in force for m.
func (m Model) Impl() string {
	if !m.Enabled() {
		return ImplOff
	}
	return ImplListener
}

// Status is the host API's view of m.
func (m Model) Status() Status {
	st := Status{Impl: m.Impl()}
	if m.Enabled() {
		st.RTTSeconds, st.RatePerConnection = m.RTT.Seconds(), m.BitsPerSec
		st.Covers = "every TCP connection to the object store's port: RTT/2 before the first byte of each turn in each direction, each direction paced at the rate"
	}
	return st
}

// Status is the host API's view (field "wan" of GET /faaslab/v1/services).
type Status struct {
	Impl              string  `json:"impl"` // off | listener
	RTTSeconds        float64 `json:"rtt_seconds,omitempty"`
	RatePerConnection int64   `json:"rate_per_connection_bits_per_sec,omitempty"`
	// Covers says which traffic the model delays.
	Covers string `json:"covers,omitempty"`
}
