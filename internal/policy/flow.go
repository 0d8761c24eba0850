package policy

import (
	"fmt"
	"net/netip"

	"github.com/kordon-dev/kordon/internal/address"
)

// Flow is what a firewall sees of a connection's first packet. For ICMP,
// DstPort carries the ICMP type and SrcPort the code.
type Flow struct {
	Src, Dst netip.Addr
	Proto    address.Proto
	SrcPort  uint16
	DstPort  uint16
}

func (f Flow) String() string {
	return fmt.Sprintf("%s:%d -> %s:%d %s", f.Src, f.SrcPort, f.Dst, f.DstPort, f.Proto)
}

// Verdict is what happens to a flow.
type Verdict uint8

// Verdicts.
const (
	Allow Verdict = iota
	Drop
	Reject
)

func (v Verdict) String() string {
	switch v {
	case Drop:
		return "DROP"
	case Reject:
		return "REJECT"
	}
	return "ALLOW"
}

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Action is what a rule does when it matches.
type Action uint8

// Actions.
const (
	ActionAllow Action = iota
	ActionDrop
	ActionReject
	ActionJump
)

func (a Action) String() string {
	switch a {
	case ActionDrop:
		return "DROP"
	case ActionReject:
		return "REJECT"
	case ActionJump:
		return "JUMP_TO_APPLICATION"
	}
	return "ALLOW"
}

// MarshalText writes the action's name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads an action's name.
func (a *Action) UnmarshalText(b []byte) error {
	for _, x := range []Action{ActionAllow, ActionDrop, ActionReject, ActionJump} {
		if x.String() == string(b) {
			*a = x
			return nil
		}
	}
	return fmt.Errorf("unknown action %q", b)
}

func (a Action) verdict() Verdict {
	switch a {
	case ActionDrop:
		return Drop
	case ActionReject:
		return Reject
	}
	return Allow
}

// Direction is the direction a DFW rule applies in, relative to the VM.
type Direction uint8

// Directions.
const (
	InOut Direction = iota
	In
	Out
)

func (d Direction) String() string {
	switch d {
	case In:
		return "IN"
	case Out:
		return "OUT"
	}
	return "IN_OUT"
}
