package reach

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
)

// The brute-force test only uses small addresses; these check the set
// operations where 128-bit arithmetic carries: across the 64-bit halves
// and at both ends of the space, against sets of 16 points kept as
// bitmaps.
func TestSetOperations(t *testing.T) {
	bases := []u128{{0, 0}, {0, 1<<64 - 8}, {^uint64(0), ^uint64(0) - 15}}
	for _, base := range bases {
		at := func(v int) u128 {
			p := base
			for ; v > 0; v-- {
				p = p.inc()
			}
			return p
		}
		toSet := func(bits uint16) set {
			var out set
			for v := 0; v < 16; v++ {
				if bits&(1<<v) == 0 {
					continue
				}
				if n := len(out); n > 0 && out[n-1].hi.inc() == at(v) {
					out[n-1].hi = at(v)
				} else {
					out = append(out, span{at(v), at(v)})
				}
			}
			return out
		}
		rnd := rand.New(rand.NewPCG(uint64(base.lo), 1))
		for n := 0; n < 5000; n++ {
			a, b := uint16(rnd.Uint32()), uint16(rnd.Uint32())
			if n%7 == 0 {
				a = 0xffff
			}
			sa, sb := toSet(a), toSet(b)
			check := func(op string, got set, want uint16) {
				t.Helper()
				if w := toSet(want); !reflect.DeepEqual(got, w) && !(len(got) == 0 && len(w) == 0) {
					t.Fatalf("base %x: %016b %s %016b = %v, want %v", base, a, op, b, got, w)
				}
			}
			check("∩", intersectSets(sa, sb), a&b)
			check("\\", subtractSets(sa, sb), a&^b)
			check("∪", setOf(append(append([]span{}, sa...), sb...)), a|b)
			if len(sa) > 0 && len(sb) > 0 {
				if got := setsMeet(sa, sb); got != (a&b != 0) {
					t.Fatalf("base %x: setsMeet(%016b, %016b) = %v", base, a, b, got)
				}
			}
		}
	}
}

// TestBoxSubtract checks that a\b and a∩b are disjoint and together make
// up a, point by point, on small random boxes.
func TestBoxSubtract(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	randomSet := func() set {
		var spans []span
		for k := 1 + rnd.IntN(2); k > 0; k-- {
			lo := uint64(rnd.IntN(4))
			spans = append(spans, span{u64(lo), u64(lo + uint64(rnd.IntN(2)))})
		}
		return setOf(spans)
	}
	randomBox := func() box {
		var b box
		for d := range b {
			b[d] = randomSet()
		}
		return b
	}
	in := func(b *box, p [nDims]uint64) bool {
		for d := range b {
			if !setsMeet(b[d], single(p[d], p[d])) {
				return false
			}
		}
		return true
	}
	for n := 0; n < 2000; n++ {
		a, b := randomBox(), randomBox()
		diff := subtractBox(nil, &a, &b)
		inter, meets := intersectBoxes(&a, &b)
		if meets != meet(&a, &b) {
			t.Fatalf("intersectBoxes says %v, meet %v", meets, meet(&a, &b))
		}
		var p [nDims]uint64
		var walk func(d int)
		walk = func(d int) {
			if d == nDims {
				count := 0
				for i := range diff {
					if in(&diff[i], p) {
						count++
					}
				}
				inA, inB := in(&a, p), in(&b, p)
				if meets && in(&inter, p) != (inA && inB) || !meets && inA && inB {
					t.Fatalf("point %v: intersection wrong", p)
				}
				if want := inA && !inB; count > 1 || (count == 1) != want {
					t.Fatalf("point %v: in %d pieces of a\\b, want in a\\b: %v", p, count, want)
				}
				return
			}
			for v := uint64(0); v < 6; v++ {
				p[d] = v
				walk(d + 1)
			}
		}
		walk(0)
	}
}

// TestPoint checks that addresses keep their order and adjacency as
// points, so that ranges of netipx sets become the same spans.
func TestPoint(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 2000; n++ {
		var b16 [16]byte
		for i := range b16 {
			b16[i] = byte(rnd.IntN(256))
			if rnd.IntN(4) == 0 {
				b16[i] = 0xff
			}
		}
		a, z := netip.AddrFrom16(b16), netip.AddrFrom4([4]byte(b16[:4]))
		for _, x := range []netip.Addr{a, z} {
			y := x.Next()
			if !y.IsValid() {
				continue
			}
			if point(x).inc() != point(y) {
				t.Fatalf("point(%s)+1 = %v, point(%s) = %v", x, point(x).inc(), y, point(y))
			}
		}
		o := netip.AddrFrom16([16]byte(append(b16[8:], b16[:8]...)))
		if point(a).less(point(o)) != (a.Compare(o) < 0) {
			t.Fatalf("%s and %s change order as points", a, o)
		}
	}
}
