package zones

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"slices"

	"github.com/signetdns/signet/internal/dnsname"
)

// The name index holds no Go pointers: the names are one byte arena, the nodes fixed-size
// structs of offsets in one slice, and the table that finds a node by name a slice of
// integers. The collector then has nothing to mark in it, however big the zone; a node map
// of strings and pointers cost a third of a million-name load's CPU in marking alone, and
// again at every collection while the zone is served.

// node is one name of the zone: an owner of RRsets or an empty non-terminal. Its name is
// Zone.names[name : name+nlen] (lowercased presentation form, as the parser gives it).
type node struct {
	name     uint32 // offset of the name in the arena
	first    uint32 // index of its first RRset in Zone.sets (and of its type in Zone.types)
	nsets    uint32 // RRsets, sorted by type
	parent   uint32 // index of the node one label up; the apex's is itself
	wild     uint32 // index+1 of the wildcard "*.<name>", 0 if none
	nlen     uint16
	ent      bool // empty non-terminal (RFC 8020 §2): exists, owns nothing
	cut      bool // owns NS and is not the apex: a delegation point
	occluded bool // strictly below a cut or a DNAME: glue or data never served as an answer
	dname    bool // owns a DNAME (RFC 6672): the names below it are redirected
}

// nameIndex finds a node by name: open addressing with linear probing. A slot is the low 32
// bits of the name's hash (the position and a tag that settles most mismatches without
// reading the node) and the node's index plus one; 0 is an empty slot.
type nameIndex struct {
	seed  maphash.Seed
	slots []uint64
	count int
}

func newNameIndex(capacity int) nameIndex {
	n := 64
	for n*7/10 < capacity {
		n <<= 1
	}
	return nameIndex{seed: maphash.MakeSeed(), slots: make([]uint64, n)}
}

func (x *nameIndex) hash(name string) uint32 { return uint32(maphash.String(x.seed, name)) }

// find returns the index of the node named name, given the nodes and their names.
func (x *nameIndex) find(nodes []node, names, name string) (uint32, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	h := x.hash(name)
	mask := uint32(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) != h {
			continue
		}
		idx := uint32(s) - 1
		n := &nodes[idx]
		if int(n.nlen) == len(name) && names[n.name:n.name+uint32(n.nlen)] == name {
			return idx, true
		}
	}
}

// insert adds node idx under the hash h of its name, which is not in the index yet.
func (x *nameIndex) insert(h, idx uint32) {
	if (x.count+1)*10 > len(x.slots)*7 {
		x.grow()
	}
	x.put(uint64(h)<<32 | uint64(idx+1))
	x.count++
}

func (x *nameIndex) put(slot uint64) {
	mask := uint32(len(x.slots) - 1)
	for i := uint32(slot>>32) & mask; ; i = (i + 1) & mask {
		if x.slots[i] == 0 {
			x.slots[i] = slot
			return
		}
	}
}

// grow doubles the table; the slots keep the hash bits that place them.
func (x *nameIndex) grow() {
	old := x.slots
	x.slots = make([]uint64, 2*max(len(old), 32))
	for _, s := range old {
		if s != 0 {
			x.put(s)
		}
	}
}

// node returns the node named name (a lowercased FQDN), or nil.
func (z *Zone) node(name string) *node {
	if i, ok := z.index.find(z.nodes, z.names, name); ok {
		return &z.nodes[i]
	}
	return nil
}

// nameOf returns n's name; a substring of the arena, it does not allocate.
func (z *Zone) nameOf(n *node) string { return z.names[n.name : n.name+uint32(n.nlen)] }

// setsOf returns n's RRsets, sorted by type.
func (z *Zone) setsOf(n *node) []rrset { return z.sets[n.first : n.first+n.nsets] }

// set returns n's RRset of type t, or nil.
func (z *Zone) set(n *node, t uint16) *rrset {
	for i, typ := range z.types[n.first : n.first+n.nsets] {
		if typ == t {
			return &z.sets[int(n.first)+i]
		}
	}
	return nil
}

// sortCanonical sorts node indexes in the canonical order of their names (RFC 4034 §6.1). The
// keys are made once, in one buffer; every name is in the zone, so all keys start with the
// apex's, and the next 8 octets, as an integer, settle most comparisons.
func (z *Zone) sortCanonical(idx []uint32) {
	skip := len(dnsname.AppendKey(nil, z.origin))
	type entry struct {
		pre        uint64
		start, end uint32
		node       uint32
	}
	var keys []byte
	es := make([]entry, len(idx))
	for i, j := range idx {
		start := len(keys)
		keys = dnsname.AppendKey(keys, z.nameOf(&z.nodes[j]))
		var pre [8]byte
		if start+skip < len(keys) {
			copy(pre[:], keys[start+skip:])
		}
		es[i] = entry{pre: binary.BigEndian.Uint64(pre[:]), start: uint32(start), end: uint32(len(keys)), node: j}
	}
	slices.SortFunc(es, func(a, b entry) int {
		switch {
		case a.pre < b.pre:
			return -1
		case a.pre > b.pre:
			return 1
		}
		return bytes.Compare(keys[a.start:a.end], keys[b.start:b.end])
	})
	for i, e := range es {
		idx[i] = e.node
	}
}
