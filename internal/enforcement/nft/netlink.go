package nft

import (
	"encoding/binary"
	"net/netip"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/realization"
)

// maxNetlinkElements bounds the element changes one delta sends through
// netlink: the batch goes to the kernel in one message, which must fit
// the socket's send buffer (about 200 KiB by default; an element takes
// under 80 bytes). Larger deltas go through nft, whose re-reading of the
// table is then small against the change.
const maxNetlinkElements = 2000

// binElement is a set element as the kernel holds it in the table's sets
// (type addr . inet_proto . inet_service, flags interval, so a
// concatenated range set): the first and the last key of the range. Each
// field of a key is big-endian and padded with zeros to a 4-byte
// register, as nft concatenates them: 4 (IPv4) or 16 (IPv6) address
// bytes, the protocol in 1 byte + 3, the port in 2 bytes + 2.
type binElement struct{ Key, KeyEnd []byte }

// setOps are the element changes of a delta for the netlink path, by
// table set name, in the order RenderDelta sends them.
type setOps struct {
	Set     string
	Removed []binElement
	Added   []binElement
}

// deltaOps lists the element changes of d by table set (sets sorted by
// name within each change, as RenderDelta), and how many there are.
func deltaOps(d *realization.Delta) ([]setOps, int) {
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
			o := get(setName(c.Set, family(r.From())))
			o.Removed = append(o.Removed, rangeElement(r))
			n++
		}
		for _, m := range c.RemovedIPPorts {
			o := get(setName(c.Set, family(m.Addr)))
			o.Removed = append(o.Removed, ipPortElement(m))
			n++
		}
		for _, r := range c.AddedRanges {
			o := get(setName(c.Set, family(r.From())))
			o.Added = append(o.Added, rangeElement(r))
			n++
		}
		for _, m := range c.AddedIPPorts {
			o := get(setName(c.Set, family(m.Addr)))
			o.Added = append(o.Added, ipPortElement(m))
			n++
		}
	}
	return out, n
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
