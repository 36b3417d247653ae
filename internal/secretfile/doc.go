// Package secretfile reads a secret kept in a file of its own (a token, a key, a cookie
// secret): the file must be a regular file readable by its owner only, since a secret others
// can read is as good as published (and one they may write can be replaced by theirs), and
// errors name the file and its mode but never its content.
//
// It imports only the standard library; admin (its token), xfr (TSIG secrets), keystore/file
// (the passphrase) and cmd (the cookie secret, the cluster's age identity) use it.
package secretfile
