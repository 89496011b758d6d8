package analyze

import (
	"crypto/rand"
	"encoding/binary"
)

// flowIndex finds live flows by key: a chained hash table sized by the
// number of live flows. It replaces a Go map because the key is hashed once
// per packet and a map's generic hashing of the 44-byte key was the largest
// single cost of the hot path. The hash is a seeded 64-bit mix; the seed is
// random per table, since keys come from untrusted packets.
type flowIndex struct {
	seed    uint64
	buckets []*flow // length a power of two; chained through flow.nextInBucket
	n       int
}

func newFlowIndex() *flowIndex {
	var seed [8]byte
	rand.Read(seed[:]) // never fails (crypto/rand panics instead)
	return &flowIndex{seed: binary.LittleEndian.Uint64(seed[:]) | 1, buckets: make([]*flow, 1024)}
}

func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func (x *flowIndex) hash(k *flowKey) uint64 {
	h := x.seed
	h = mix64(h ^ binary.LittleEndian.Uint64(k.lo[0:8]))
	h = mix64(h ^ binary.LittleEndian.Uint64(k.lo[8:16]))
	h = mix64(h ^ binary.LittleEndian.Uint64(k.hi[0:8]))
	h = mix64(h ^ binary.LittleEndian.Uint64(k.hi[8:16]))
	h = mix64(h ^ uint64(k.tunnelID) ^ uint64(k.tunnel)<<56)
	return mix64(h ^ uint64(k.loPort)<<48 ^ uint64(k.hiPort)<<32 ^ uint64(uint32(k.vlan))<<8 ^ uint64(k.proto))
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
