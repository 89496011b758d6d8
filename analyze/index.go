package analyze

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
)

// flowIndex finds live flows by key: a chained hash table of flow ids sized
// by the number of live flows, chained through flow.nextInBucket. It
// replaces a Go map because the key is hashed once per packet and a map's
// generic hashing of the key was the largest single cost of the hot path;
// and it holds no pointers, so the collector skips it. The hash folds the
// key's words with three independent 128-bit multiplications (wyhash's
// mixer), each operand XORed with a seed word that is random per table,
// since keys come from untrusted packets: colliding keys cannot be chosen
// without the seed. Flows do not keep their hash: growing the index and
// removing a flow hash its key again, which costs less than 8 bytes in
// every flow.
type flowIndex struct {
	seed    [6]uint64
	store   *flowStore
	buckets []flowID // length a power of two; noFlow ends a chain
	n       int
}

func newFlowIndex(s *flowStore) *flowIndex {
	var b [8 * 6]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	x := &flowIndex{store: s, buckets: make([]flowID, 1024)}
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
	id := uint64(k.tunnelID) | uint64(k.tunnel)<<56 | uint64(k.tunnelIDSet)<<48
	a := mum(le.Uint64(k.lo[0:8])^s[0], le.Uint64(k.lo[8:16])^s[1])
	b := mum(le.Uint64(k.hi[0:8])^s[2], le.Uint64(k.hi[8:16])^s[3])
	c := mum(id^s[4], ports^s[5])
	return mum(a^s[1], b^c^s[2])
}

func (x *flowIndex) get(k *flowKey, h uint64) flowID {
	for id := x.buckets[h&uint64(len(x.buckets)-1)]; id != noFlow; {
		f := x.store.at(id)
		if f.key == *k {
			return id
		}
		id = f.nextInBucket
	}
	return noFlow
}

// put adds flow id, whose key hashes to h and which is not in the index.
func (x *flowIndex) put(id flowID, h uint64) {
	if x.n >= len(x.buckets) {
		x.grow()
	}
	b := &x.buckets[h&uint64(len(x.buckets)-1)]
	x.store.at(id).nextInBucket, *b = *b, id
	x.n++
}

// replace puts flow g, of the same key, where flow f is.
func (x *flowIndex) replace(f, g flowID) {
	ff, gf := x.store.at(f), x.store.at(g)
	for p := &x.buckets[x.hash(&ff.key)&uint64(len(x.buckets)-1)]; *p != noFlow; p = &x.store.at(*p).nextInBucket {
		if *p == f {
			gf.nextInBucket, *p, ff.nextInBucket = ff.nextInBucket, g, noFlow
			return
		}
	}
}

func (x *flowIndex) remove(id flowID) {
	f := x.store.at(id)
	for p := &x.buckets[x.hash(&f.key)&uint64(len(x.buckets)-1)]; *p != noFlow; p = &x.store.at(*p).nextInBucket {
		if *p == id {
			*p, f.nextInBucket = f.nextInBucket, noFlow
			x.n--
			return
		}
	}
}

func (x *flowIndex) grow() {
	old := x.buckets
	x.buckets = make([]flowID, 2*len(old))
	mask := uint64(len(x.buckets) - 1)
	for _, id := range old {
		for id != noFlow {
			f := x.store.at(id)
			next := f.nextInBucket
			b := &x.buckets[x.hash(&f.key)&mask]
			f.nextInBucket, *b = *b, id
			id = next
		}
	}
}
