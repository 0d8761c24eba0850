package nft

import (
	"encoding/binary"
	"net/netip"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/realization"
)

// maxNetlinkElements bounds the kernel elements one delta sends through
// netlink: the batch goes to the kernel in one message, which must fit
// the socket's send buffer (about 200 KiB by default; an element takes
// under 80 bytes, a class map's start with its chain's name under 100).
// Larger deltas go through nft, whose re-reading of the table is then
// small against the change.
const maxNetlinkElements = 2000

// binElement is a set element as the kernel holds it in the table's sets
// (type addr . inet_proto . inet_service, flags interval, so a
// concatenated range set): the first and the last key of the range. Each
// field of a key is big-endian and padded with zeros to a 4-byte
// register, as nft concatenates them: 4 (IPv4) or 16 (IPv6) address
// bytes, the protocol in 1 byte + 3, the port in 2 bytes + 2.
//
// A class map's ranges (type addr : verdict, flags interval, one field)
// are an rbtree in the kernel, which holds a range as two elements: its
// first address with the verdict, and the address after its last
// flagged as an interval end (none when the range reaches the family's
// last address). End says an element is such an end; Goto is the chain
// of a verdict (a single address, in the exact-match map, is one
// element with its verdict).
type binElement struct {
	Key, KeyEnd []byte
	End         bool
	Goto        string
}

// setOps are the element changes of a delta for the netlink path, by
// table set name, in the order RenderDelta sends them.
type setOps struct {
	Set     string
	Removed []binElement
	Added   []binElement
}

// deltaOps lists the element changes of d on the table sets that exist
// (sets sorted by name within each change, as renderDelta), then those of
// the class maps, and how many there are (a class map's range counts
// once).
func deltaOps(d *realization.Delta, sets map[string]bool, classes []classChange) ([]setOps, int) {
	var out []setOps
	n := 0
	idx := map[string]int{}
	get := func(name string) *setOps {
		i, ok := idx[name]
		if !ok {
			i = len(out)
			idx[name] = i
			out = append(out, setOps{Set: name})
		}
		return &out[i]
	}
	for _, c := range d.Changes {
		for _, r := range c.RemovedRanges {
			if name := setName(c.Set, family(r.From())); sets[name] {
				o := get(name)
				o.Removed = append(o.Removed, rangeElement(r))
				n++
			}
		}
		for _, m := range c.RemovedIPPorts {
			if name := setName(c.Set, family(m.Addr)); sets[name] {
				o := get(name)
				o.Removed = append(o.Removed, ipPortElement(m))
				n++
			}
		}
		for _, r := range c.AddedRanges {
			if name := setName(c.Set, family(r.From())); sets[name] {
				o := get(name)
				o.Added = append(o.Added, rangeElement(r))
				n++
			}
		}
		for _, m := range c.AddedIPPorts {
			if name := setName(c.Set, family(m.Addr)); sets[name] {
				o := get(name)
				o.Added = append(o.Added, ipPortElement(m))
				n++
			}
		}
	}
	for _, c := range classes {
		for i := range c.Removed {
			o := get(c.Map.mapOf(&c.Removed[i]))
			o.Removed = append(o.Removed, classElements(c.Removed[i])...)
		}
		for i := range c.Added {
			o := get(c.Map.mapOf(&c.Added[i]))
			o.Added = append(o.Added, classElements(c.Added[i])...)
		}
		n += len(c.Removed) + len(c.Added)
	}
	return out, n
}

// kernelElements counts the elements the kernel receives for ops: a
// class map range is two (its start and its end).
func kernelElements(ops []setOps) int {
	n := 0
	for _, o := range ops {
		n += len(o.Removed) + len(o.Added)
	}
	return n
}

// classElements are the kernel's elements of a class map element: in the
// exact-match map, the address; in the interval map, the range's start
// and end.
func classElements(e ClassElement) []binElement {
	out := []binElement{{Key: e.Range.From().Unmap().AsSlice(), Goto: e.Chain}}
	if e.Single() {
		return out
	}
	if end := e.Range.To().Next(); end.IsValid() {
		out = append(out, binElement{Key: end.Unmap().AsSlice(), End: true})
	}
	return out
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// rangeElement is the element Elements writes "range . 0-255 . 0-65535".
func rangeElement(r netipx.IPRange) binElement {
	return binElement{Key: concatKey(r.From(), 0, 0), KeyEnd: concatKey(r.To(), 255, 65535)}
}

// ipPortElement is the element "addr . proto . port", a range of one.
func ipPortElement(m address.IPPort) binElement {
	k := concatKey(m.Addr, uint8(m.Proto), m.Port)
	return binElement{Key: k, KeyEnd: k}
}

func concatKey(a netip.Addr, proto uint8, port uint16) []byte {
	a = a.Unmap()
	b := a.AsSlice()
	b = append(b, proto, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, port)
	return append(b, 0, 0)
}
