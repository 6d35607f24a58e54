package ucan

import (
	"fmt"
	"strings"
	"time"

	"github.com/ipvm-go/ipvm/spec"
)

// Inspection is a printable view of one token, for `ipvm ucan inspect`.
// Its JSON form (encoding/json) is the --json output.
type Inspection struct {
	Kind     string `json:"kind"`
	CID      string `json:"cid"`
	Tag      string `json:"tag"`
	Issuer   string `json:"iss"`
	Audience string `json:"aud,omitempty"`
	// Subject is the sub DID, or "null (powerline)".
	Subject string `json:"sub"`
	Command string `json:"cmd"`
	// Payload is the decoded payload in DAG-JSON.
	Payload string `json:"payload"`
	// Expires and NotBefore are RFC 3339 times, "never" or "".
	Expires   string `json:"exp"`
	NotBefore string `json:"nbf,omitempty"`
	// Verified reports whether the signature verifies; VerifyError says
	// why not.
	Verified    bool   `json:"verified"`
	VerifyError string `json:"verifyError,omitempty"`
}

// Inspect decodes a token or a container (see ReadTokens) and describes
// each token, verifying its signature. It does not validate chains.
func Inspect(b []byte) ([]*Inspection, error) {
	toks, err := ReadTokens(b, Limits{})
	if err != nil {
		return nil, err
	}
	out := make([]*Inspection, len(toks))
	for i, t := range toks {
		out[i] = InspectToken(t)
	}
	return out, nil
}

// InspectToken describes a decoded token, verifying its signature.
func InspectToken(t *Token) *Inspection {
	in := &Inspection{
		Kind: t.Kind.String(), CID: t.CID.String(), Tag: t.Tag, Issuer: t.Issuer,
		Audience: t.Audience, Subject: t.Subject, Command: t.Command,
		Expires: "never", Verified: true,
	}
	if t.IsPowerline() {
		in.Subject = "null (powerline)"
	}
	if js, err := spec.EncodeJSON(t.payload); err == nil {
		in.Payload = string(js)
	}
	if t.Exp != nil {
		in.Expires = time.Unix(*t.Exp, 0).UTC().Format(time.RFC3339)
	}
	if t.Nbf != nil {
		in.NotBefore = time.Unix(*t.Nbf, 0).UTC().Format(time.RFC3339)
	}
	if err := t.Verify(); err != nil {
		in.Verified, in.VerifyError = false, err.Error()
	}
	return in
}

// String renders the inspection as aligned "key: value" lines.
func (in *Inspection) String() string {
	var sb strings.Builder
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&sb, "%-9s %s\n", k+":", v)
		}
	}
	row("kind", in.Kind)
	row("cid", in.CID)
	row("tag", in.Tag)
	row("iss", in.Issuer)
	row("aud", in.Audience)
	row("sub", in.Subject)
	row("cmd", in.Command)
	row("exp", in.Expires)
	row("nbf", in.NotBefore)
	if in.Verified {
		row("verified", "yes (signature of "+in.Issuer+")")
	} else {
		row("verified", "NO: "+in.VerifyError)
	}
	row("payload", in.Payload)
	return sb.String()
}
