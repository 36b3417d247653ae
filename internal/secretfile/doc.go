// Package secretfile reads a secret kept in a file of its own (a token, a key, a cookie
// secret): the file must be readable by its owner only, since a secret others can read is as
// good as published, and errors name the file and its mode but never its content.
//
// It imports only the standard library; admin (its token) and cmd (the cookie secret) use it.
package secretfile
