package analyze

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
)

// flowIndex finds live flows by key: a chained hash table sized by the
// number of live flows. It replaces a Go map because the key is hashed once
// per packet and a map's generic hashing of the 56-byte key was the largest
// single cost of the hot path. The hash folds the key's seven words with
// three independent 128-bit multiplications (wyhash's mixer), each operand
// XORed with a seed word that is random per table, since keys come from
// untrusted packets: colliding keys cannot be chosen without the seed.
type flowIndex struct {
	seed    [6]uint64
	buckets []*flow // length a power of two; chained through flow.nextInBucket
	n       int
}

func newFlowIndex() *flowIndex {
	var b [8 * 6]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	x := &flowIndex{buckets: make([]*flow, 1024)}
	for i := range x.seed {
		x.seed[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return x
}

// mum multiplies x by y into 128 bits and folds the two halves together.
func mum(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi ^ lo
}

func (x *flowIndex) hash(k *flowKey) uint64 {
	s := &x.seed
	le := binary.LittleEndian
	ports := uint64(k.loPort)<<48 | uint64(k.hiPort)<<32 | uint64(uint32(k.vlan))<<8 | uint64(k.proto)
	a := mum(le.Uint64(k.lo[0:8])^s[0], le.Uint64(k.lo[8:16])^s[1])
	b := mum(le.Uint64(k.hi[0:8])^s[2], le.Uint64(k.hi[8:16])^s[3])
	c := mum(uint64(k.tunnelID)^uint64(k.tunnel)<<56^s[4], ports^s[5])
	return mum(a^s[1], b^c^s[2])
}

func (x *flowIndex) get(k *flowKey, h uint64) *flow {
	for f := x.buckets[h&uint64(len(x.buckets)-1)]; f != nil; f = f.nextInBucket {
		if f.hash == h && f.key == *k {
			return f
		}
	}
	return nil
}

// put adds f, whose key and hash are set and which is not in the index.
func (x *flowIndex) put(f *flow) {
	if x.n >= len(x.buckets) {
		x.grow()
	}
	b := &x.buckets[f.hash&uint64(len(x.buckets)-1)]
	f.nextInBucket, *b = *b, f
	x.n++
}

// replace puts g, a flow with the same key, where f is.
func (x *flowIndex) replace(f, g *flow) {
	g.hash = f.hash
	for p := &x.buckets[f.hash&uint64(len(x.buckets)-1)]; *p != nil; p = &(*p).nextInBucket {
		if *p == f {
			g.nextInBucket, *p, f.nextInBucket = f.nextInBucket, g, nil
			return
		}
	}
}

func (x *flowIndex) remove(f *flow) {
	for p := &x.buckets[f.hash&uint64(len(x.buckets)-1)]; *p != nil; p = &(*p).nextInBucket {
		if *p == f {
			*p, f.nextInBucket = f.nextInBucket, nil
			x.n--
			return
		}
	}
}

func (x *flowIndex) grow() {
	old := x.buckets
	x.buckets = make([]*flow, 2*len(old))
	mask := uint64(len(x.buckets) - 1)
	for _, f := range old {
		for f != nil {
			next := f.nextInBucket
			b := &x.buckets[f.hash&mask]
			f.nextInBucket, *b = *b, f
			f = next
		}
	}
}
