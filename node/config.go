package node

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/ipvm-go/ipvm/ucan"
)

// Config is a node's configuration, stored as config.json in the repo.
// Every field's zero value means the default named in its comment, so an
// empty file is a valid config.
type Config struct {
	// API is the HTTP gateway's listen address. Empty means 127.0.0.1:5080.
	API string `json:"api,omitempty"`
	// Workers caps the tasks that run at once. Zero means GOMAXPROCS.
	Workers int `json:"workers,omitempty"`
	// Limits are the node-wide caps on every task; a task's own meta may
	// ask for less, never more.
	Limits Limits `json:"limits"`
	// AllowLoopbackOwner lets requests from 127.0.0.1/::1 run without a
	// UCAN token, as the node's owner (like a kubo API). Nil means true.
	// Remote addresses always need a token.
	AllowLoopbackOwner *bool `json:"allowLoopbackOwner,omitempty"`
	// Network configures the libp2p host.
	Network Network `json:"network"`
	// Labels are host labels (key=value) advertised in offers.
	Labels map[string]string `json:"labels,omitempty"`
	// BlockPeers lists peer IDs this node never sends work to or accepts
	// work or receipts from.
	BlockPeers []string `json:"blockPeers,omitempty"`
	// BlockModules lists module CIDs this node never runs.
	BlockModules []string `json:"blockModules,omitempty"`
	// TrustedIssuers lists DIDs whose receipts are accepted from any
	// provider, besides receipts issued by the provider itself.
	TrustedIssuers []string `json:"trustedIssuers,omitempty"`
	// Placement configures remote execution and placement.
	Placement Placement `json:"placement"`
}

// Placement configures where tasks run (SPEC §11.x).
type Placement struct {
	// Local runs every task on this node: no offers are consulted and no
	// task is sent to a peer. Pins to a peer then fail.
	Local bool `json:"local,omitempty"`
	// NoServe refuses /ipvm/invoke/1.0.0: this node runs no task for
	// peers (it still serves its offer, saying so by offering no command).
	NoServe bool `json:"noServe,omitempty"`
	// AllowInvokers lists the DIDs whose invocations this node runs for
	// peers: the invocation's issuer or its chain's subject must be one of
	// them. Empty means any valid invocation (open compute).
	AllowInvokers []string `json:"allowInvokers,omitempty"`
	// Timeout bounds one remote run, from the request to the verified
	// receipt. Zero means 30s; the libp2p stream timeout of both hosts
	// caps it too.
	Timeout Duration `json:"timeout,omitempty"`
}

// Limits are caps on one task.
type Limits struct {
	// Memory caps a task's linear memory in bytes. Zero means 256 MiB.
	Memory int64 `json:"memory,omitempty"`
	// Time caps a task's wall time. Zero means 30s.
	Time Duration `json:"time,omitempty"`
	// Output caps a task's result in bytes. Zero means 16 MiB.
	Output int64 `json:"output,omitempty"`
	// Fuel caps a task's fuel. Zero means 10 000 000 000.
	Fuel int64 `json:"fuel,omitempty"`
}

// Network configures the libp2p host.
type Network struct {
	// Disabled turns the libp2p host off. The zero value runs it.
	Disabled bool `json:"disabled,omitempty"`
	// Listen are multiaddrs to listen on. Empty means TCP and QUIC on all
	// interfaces, port 0 (a free port).
	Listen []string `json:"listen,omitempty"`
	// Bootstrap are multiaddrs (with /p2p/ID) of peers to join through.
	Bootstrap []string `json:"bootstrap,omitempty"`
	// NoMDNS turns LAN discovery off. The zero value runs it.
	NoMDNS bool `json:"noMDNS,omitempty"`
	// LookupTimeout bounds the wait for a receipt from the network before
	// running a task. Zero means 250ms.
	LookupTimeout Duration `json:"lookupTimeout,omitempty"`
}

// DefaultConfig returns the config a new repo is created with.
func DefaultConfig() Config {
	t := true
	return Config{
		API:                "127.0.0.1:5080",
		AllowLoopbackOwner: &t,
		Limits: Limits{
			Memory: 256 << 20,
			Time:   Duration(30 * time.Second),
			Output: 16 << 20,
			Fuel:   10_000_000_000,
		},
		Network: Network{LookupTimeout: Duration(250 * time.Millisecond)},
	}
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.API == "" {
		c.API = d.API
	}
	if c.AllowLoopbackOwner == nil {
		c.AllowLoopbackOwner = d.AllowLoopbackOwner
	}
	if c.Limits.Memory == 0 {
		c.Limits.Memory = d.Limits.Memory
	}
	if c.Limits.Time == 0 {
		c.Limits.Time = d.Limits.Time
	}
	if c.Limits.Output == 0 {
		c.Limits.Output = d.Limits.Output
	}
	if c.Limits.Fuel == 0 {
		c.Limits.Fuel = d.Limits.Fuel
	}
	if c.Network.LookupTimeout == 0 {
		c.Network.LookupTimeout = d.Network.LookupTimeout
	}
	if c.Placement.Timeout == 0 {
		c.Placement.Timeout = Duration(30 * time.Second)
	}
	return c
}

func (c Config) validate() error {
	if c.API != "" {
		if _, _, err := net.SplitHostPort(c.API); err != nil {
			return fmt.Errorf("%w: api %q: %v", ErrBadConfig, c.API, err)
		}
	}
	if c.Workers < 0 {
		return fmt.Errorf("%w: workers must not be negative", ErrBadConfig)
	}
	l := c.Limits
	if l.Memory < 0 || l.Time < 0 || l.Output < 0 || l.Fuel < 0 {
		return fmt.Errorf("%w: limits must not be negative", ErrBadConfig)
	}
	return nil
}

// Duration is a time.Duration that reads and writes as "5s" in JSON (and
// also reads a number of milliseconds).
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var ms int64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("duration must be a string like \"5s\" or milliseconds")
	}
	*d = Duration(time.Duration(ms) * time.Millisecond)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func encodeKey(k *ucan.Key) string {
	return base64.StdEncoding.EncodeToString(k.Seed())
}

func decodeKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	return b, nil
}
