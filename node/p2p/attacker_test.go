package p2p_test

import (
	"context"
	"testing"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/ipvm-go/ipvm/node/p2p/p2ptest"
)

type attacker struct{ h host.Host }

// newAttacker starts a bare libp2p host connected to victim.
func newAttacker(t *testing.T, ctx context.Context, victim *node) *attacker {
	t.Helper()
	h, err := p2ptest.NewBareHost()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	if err := p2ptest.Connect(ctx, h, victim.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	return &attacker{h: h}
}
