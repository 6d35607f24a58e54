package receipt

import (
	"fmt"

	"github.com/ipvm-go/ipvm/spec"
)

// An Outcome is what a memo lookup needs of a stored receipt: its result
// and whether the run was impure.
type Outcome struct {
	// Out is the receipt's args.out.
	Out spec.Result
	// Impure is true when meta.impure is true: the run used an impure host
	// import, so its result must not be served again.
	Impure bool
}

// DecodeOutcome reads only the result and meta.impure of a sealed receipt,
// skipping every other field without building it: the read behind a memo
// hit, which serves the result of a receipt this node stored itself and
// needs neither the issuer, the links nor the rest of meta. It relies on
// the canonical key order Decode enforces (args, then meta, then nonce;
// inside meta, "impure" before every longer key) and stops reading as soon
// as nothing after can change its answer, so it reads less than the whole
// receipt. It checks the framing and the values it reads; it does not check
// the order or UTF-8 of the keys, that the required fields are present or
// well typed, the bytes after its stopping point (Decode does all that), nor
// the signature. Use it only on bytes that were decoded and verified when
// they were stored: on those it agrees with Decode.
func DecodeOutcome(b []byte) (Outcome, error) {
	if len(b) > DefaultMaxBytes {
		return Outcome{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), DefaultMaxBytes)
	}
	d := decoder{b: b, lim: spec.Limits{MaxBytes: DefaultMaxBytes, MaxDepth: spec.DefaultLimits.MaxDepth, MaxItems: spec.DefaultLimits.MaxItems}}
	if _, _, err := d.envelopeHead(); err != nil {
		return Outcome{}, err
	}
	n, err := d.expect(Tag, majMap, "a map")
	if err != nil {
		return Outcome{}, err
	}
	var o Outcome
	hasOut := false
	for range n {
		kb, err := d.rawKey(Tag)
		if err != nil {
			return Outcome{}, err
		}
		switch string(kb) {
		case keyArgs:
			if hasOut, err = d.outcomeArgs(&o); err != nil {
				return Outcome{}, err
			}
		case keyMeta:
			if o.Impure, err = d.metaImpure(); err != nil {
				return Outcome{}, err
			}
			// Only nonce follows meta.
			return o, d.needOut(hasOut)
		default:
			if err := d.skip(Tag, 0); err != nil { // a constant: string(kb) would allocate
				return Outcome{}, err
			}
		}
	}
	if d.off != len(d.b) {
		return Outcome{}, d.fail("envelope", spec.ErrMalformed, "%d trailing bytes", len(d.b)-d.off)
	}
	return o, d.needOut(hasOut)
}

// needOut is the error for a receipt without args.out.
func (d *decoder) needOut(hasOut bool) error {
	if !hasOut {
		return d.fail(keyArgs, nil, "missing field args.out")
	}
	return nil
}

// outcomeArgs reads args.out into o and skips the other args.
func (d *decoder) outcomeArgs(o *Outcome) (hasOut bool, err error) {
	n, err := d.expect(keyArgs, majMap, "a map {fx, inv, out, ran}")
	if err != nil {
		return false, err
	}
	for range n {
		kb, err := d.rawKey(keyArgs)
		if err != nil {
			return false, err
		}
		if string(kb) != keyOut {
			if err := d.skip(keyArgs, 0); err != nil {
				return false, err
			}
			continue
		}
		if o.Out, err = d.out(); err != nil {
			return false, err
		}
		hasOut = true
	}
	return hasOut, nil
}

// metaImpure reports whether meta holds impure: true. It stops at the
// first key that sorts after "impure", leaving the rest of meta unread.
func (d *decoder) metaImpure() (bool, error) {
	n, err := d.expect(keyMeta, majMap, "a map")
	if err != nil {
		return false, err
	}
	for range n {
		kb, err := d.rawKey(keyMeta)
		if err != nil {
			return false, err
		}
		if string(kb) == "impure" {
			at := d.off
			if err := d.skip(keyMeta, 1); err != nil {
				return false, err
			}
			return d.b[at] == cborTrue, nil
		}
		if len(kb) > len("impure") || len(kb) == len("impure") && string(kb) > "impure" {
			return false, nil
		}
		if err := d.skip(keyMeta, 1); err != nil {
			return false, err
		}
	}
	return false, nil
}

// rawKey reads a map key's bytes without checking them: DecodeOutcome only
// compares them with its ASCII field names.
func (d *decoder) rawKey(where string) ([]byte, error) {
	n, err := d.expect(where, majText, "a string")
	if err != nil {
		return nil, err
	}
	return d.take(where, n)
}
