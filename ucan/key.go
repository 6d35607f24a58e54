package ucan

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/multiformats/go-multibase"
)

// Identity errors.
var (
	// ErrBadDID is returned for a DID this node cannot turn into a public key.
	ErrBadDID = errors.New("ucan: not an Ed25519 did:key")
	// ErrBadKey is returned for malformed private key material.
	ErrBadKey = errors.New("ucan: bad private key")
)

// didKeyPrefix is "did:key:" and ed25519Multicodec the varint of the
// ed25519-pub multicodec (0xed) that precedes the key inside a did:key.
const didKeyPrefix = "did:key:"

var ed25519Multicodec = []byte{0xed, 0x01}

// Key is an Ed25519 identity: a node's or a user's. It is safe for
// concurrent use.
type Key struct {
	priv ed25519.PrivateKey
	did  string
}

// GenerateKey returns a fresh random key.
func GenerateKey() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return NewKey(priv)
}

// NewKey wraps an Ed25519 private key (64 bytes) or seed (32 bytes).
func NewKey(priv []byte) (*Key, error) {
	switch len(priv) {
	case ed25519.SeedSize:
		priv = ed25519.NewKeyFromSeed(priv)
	case ed25519.PrivateKeySize:
		// Check that the public half matches the seed, so a corrupted key
		// file cannot produce signatures under another DID.
		want := ed25519.NewKeyFromSeed(priv[:ed25519.SeedSize])
		if !want.Equal(ed25519.PrivateKey(priv)) {
			return nil, fmt.Errorf("%w: public half does not match the seed", ErrBadKey)
		}
	default:
		return nil, fmt.Errorf("%w: %d bytes, want 32 or 64", ErrBadKey, len(priv))
	}
	k := &Key{priv: append(ed25519.PrivateKey(nil), priv...)}
	k.did = DIDFromPublicKey(k.Public())
	return k, nil
}

// DID returns the key's did:key.
func (k *Key) DID() string { return k.did }

// Public returns the public key.
func (k *Key) Public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// Private returns the 64-byte private key. Callers must not modify it.
func (k *Key) Private() ed25519.PrivateKey { return k.priv }

// Seed returns the 32-byte seed the key derives from.
func (k *Key) Seed() []byte { return k.priv.Seed() }

// Sign signs msg.
func (k *Key) Sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// DIDFromPublicKey returns the did:key of an Ed25519 public key.
func DIDFromPublicKey(pub ed25519.PublicKey) string {
	b := make([]byte, 0, len(ed25519Multicodec)+len(pub))
	b = append(append(b, ed25519Multicodec...), pub...)
	s, _ := multibase.Encode(multibase.Base58BTC, b)
	return didKeyPrefix + s
}

// PublicKeyFromDID returns the Ed25519 public key inside a did:key.
func PublicKeyFromDID(did string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(did, didKeyPrefix)
	if !ok || len(rest) < 2 || rest[0] != 'z' {
		return nil, fmt.Errorf("%w: %q", ErrBadDID, trunc(did))
	}
	enc, b, err := multibase.Decode(rest)
	if err != nil || enc != multibase.Base58BTC {
		return nil, fmt.Errorf("%w: %q", ErrBadDID, trunc(did))
	}
	if len(b) != len(ed25519Multicodec)+ed25519.PublicKeySize || b[0] != ed25519Multicodec[0] || b[1] != ed25519Multicodec[1] {
		return nil, fmt.Errorf("%w: %q", ErrBadDID, trunc(did))
	}
	return ed25519.PublicKey(b[len(ed25519Multicodec):]), nil
}

// VerifyDID checks sig over msg against the key of an Ed25519 did:key.
func VerifyDID(did string, msg, sig []byte) error {
	pub, err := PublicKeyFromDID(did)
	if err != nil {
		return err
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, msg, sig) {
		return ErrBadSignature
	}
	return nil
}

// ErrBadSignature is returned when a signature does not verify.
var ErrBadSignature = errors.New("ucan: signature does not verify")

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
