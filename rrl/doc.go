// Package rrl is response rate limiting for UDP answers, with the design of BIND's and Knot's
// RRL: answers to one client network (an IPv4 /24, an IPv6 /56 by default) of one kind
// (answer, denial, referral, error) draw from a token bucket refilled at a fixed rate per
// second. An answer with no token left is dropped, except every Slip-th one, which goes out
// truncated (TC=1) so that a real client behind a spoofed flood retries over TCP, which is
// never limited. This takes the amplification out of reflection attacks that spoof a victim's
// address.
//
// The limiter is a fixed table of buckets indexed by a hash of the network and kind, so its
// memory does not grow with the number of clients: a flood from many networks makes buckets
// share, which limits more, never less. Checking costs no allocation.
//
// rrl imports nothing of Signet's; the server calls it on each UDP response it is about to
// send.
package rrl
