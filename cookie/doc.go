// Package cookie is DNS Cookies for the server side (RFC 7873) with the interoperable server
// cookie of RFC 9018: version 1, three reserved octets, a 32-bit timestamp and a SipHash-2-4
// of the client cookie, those fields and the client's address under a 128-bit server secret.
// Any server of a set sharing the secret, whatever its implementation, verifies the cookies
// the others hand out.
//
// A cookie is usable for an hour after its timestamp, and up to five minutes before it for
// clock skew (RFC 9018 §4.3). The secret rotates every period (a Jar's Config.Rotate); cookies
// made with the previous secret stay valid for one more period, so a rotation never turns a
// client's fresh cookie into a bad one.
//
// cookie imports nothing of Signet's; the server asks it to verify the COOKIE option of a
// query and to make the one of the response.
package cookie
