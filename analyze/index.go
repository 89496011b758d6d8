package analyze

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/flowproof/flowproof/internal/prefault"
	"github.com/flowproof/flowproof/internal/prefetch"
)

// flowIndex finds live flows by key: an open-addressing hash table with
// linear probing, sized by the number of live flows (at most 3/4 full). A
// slot holds a flow id and the hash's upper 32 bits (the tag), which also
// choose the slot, so that a lookup touches a flow only when its tag
// matches, and growing or removing touches no flow: with a million flows
// live, every flow touched is a cache (and TLB) miss. It replaces a Go map
// because the key is hashed once per packet and a map's generic hashing of
// the key was the largest single cost of the hot path; and it holds no
// pointers, so the collector skips it. The hash folds the key's words with
// three independent 128-bit multiplications (wyhash's mixer), each operand
// XORed with a seed word that is random per table, since keys come from
// untrusted packets: colliding keys cannot be chosen without the seed.
type flowIndex struct {
	seed  [6]uint64
	store *flowStore
	slots []uint64 // tag<<32 | id; 0 is empty. Length a power of two, at most 2^32.
	n     int
}

// firstSlots is the size of a new index: 768 flows before it grows.
const firstSlots = 1024

func newFlowIndex(s *flowStore) *flowIndex {
	var b [8 * 6]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	x := &flowIndex{store: s, slots: make([]uint64, firstSlots)}
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

// equal reports whether k and o are the same key: k == o, in six word
// loads each (== compares the address arrays by a call to memequal). The
// last word's top byte is padding, never compared.
func (k *flowKey) equal(o *flowKey) bool {
	a := (*[6]uint64)(unsafe.Pointer(k))
	b := (*[6]uint64)(unsafe.Pointer(o))
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
		(a[5]^b[5])&keyLastMask == 0
}

// keyLastMask selects the bytes of flowKey's last word that are fields:
// tunnelID, proto, tunnel and tunnelIDSet (byte 47 is padding).
const keyLastMask = 1<<56 - 1

// tagOf returns the slot tag of hash h.
func tagOf(h uint64) uint32 { return uint32(h >> 32) }

func (x *flowIndex) get(k *flowKey, h uint64) flowID {
	tag, mask := tagOf(h), uint64(len(x.slots)-1)
	for i := uint64(tag) & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return noFlow
		}
		if uint32(s>>32) == tag {
			if id := flowID(s); x.store.at(id).key.equal(k) {
				return id
			}
		}
	}
}

// prefetch starts loading the slot where a lookup of a key hashing to h
// begins, so that the lookup, a little later, does not wait for memory.
func (x *flowIndex) prefetch(h uint64) {
	prefetch.Read(&x.slots[uint64(tagOf(h))&uint64(len(x.slots)-1)])
}

// prefetchMin is the index size (slots) from which prefetching pays: a
// smaller index mostly stays in the CPU's caches.
var prefetchMin = 1 << 20

// put adds flow id, whose key hashes to h and which is not in the index.
func (x *flowIndex) put(id flowID, h uint64) {
	if 4*(x.n+1) > 3*len(x.slots) {
		x.grow()
	}
	x.insert(uint64(tagOf(h))<<32 | uint64(id))
	x.n++
}

func (x *flowIndex) insert(slot uint64) {
	mask := uint64(len(x.slots) - 1)
	i := slot >> 32 & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = slot
}

// find returns the slot of flow id, in the index.
func (x *flowIndex) find(id flowID) uint64 {
	f := x.store.at(id)
	mask := uint64(len(x.slots) - 1)
	i := uint64(tagOf(x.hash(&f.key))) & mask
	for flowID(x.slots[i]) != id {
		i = (i + 1) & mask
	}
	return i
}

// replace puts flow g, of the same key, where flow f is.
func (x *flowIndex) replace(f, g flowID) {
	i := x.find(f)
	x.slots[i] = x.slots[i]&^(1<<32-1) | uint64(g)
}

// remove takes flow id out, moving back the slots after it that may go
// closer to their home slot (deletion without tombstones).
func (x *flowIndex) remove(id flowID) {
	mask := uint64(len(x.slots) - 1)
	i := x.find(id)
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		s := x.slots[j]
		if home := s >> 32 & mask; (j-home)&mask >= (j-i)&mask {
			x.slots[i] = s
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
}

// reset empties the index, letting go of a large slot array.
func (x *flowIndex) reset() {
	if len(x.slots) > firstSlots {
		x.slots = make([]uint64, firstSlots)
	} else {
		clear(x.slots)
	}
	x.n = 0
}

func (x *flowIndex) grow() {
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	// The rehash below writes all over it: back its pages in one call.
	prefault.Write(unsafe.Pointer(unsafe.SliceData(x.slots)), uintptr(len(x.slots))*8)
	for _, s := range old {
		if s != 0 {
			x.insert(s)
		}
	}
}
