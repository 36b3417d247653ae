package cookie

import (
	"encoding/binary"
	"math/bits"
)

// siphash24 is SipHash-2-4 (Aumasson and Bernstein, 2012) of msg under the 128-bit key k,
// the pseudorandom function RFC 9018 §4.4 names.
func siphash24(k *[16]byte, msg []byte) uint64 {
	k0 := binary.LittleEndian.Uint64(k[0:])
	k1 := binary.LittleEndian.Uint64(k[8:])
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	n := len(msg)
	var last [8]byte
	for {
		var m uint64
		if len(msg) >= 8 {
			m = binary.LittleEndian.Uint64(msg)
		} else {
			// The last block: the bytes left, and the message length in its top byte.
			copy(last[:], msg)
			last[7] = byte(n)
			m = binary.LittleEndian.Uint64(last[:])
		}
		// Two SipRounds per block: the "2" of SipHash-2-4.
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
		if len(msg) < 8 {
			break
		}
		msg = msg[8:]
	}
	// Four finalization rounds: the "4" of SipHash-2-4.
	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// sipRound is one SipRound. The state travels in values, not through a pointer, so that
// the compiler keeps it in registers.
func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
