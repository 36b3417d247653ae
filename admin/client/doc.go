// Package client is the typed Go client of Signet's admin API (package admin): one method per
// call, typed requests and answers, and refusals as *Error carrying Route 53's error code.
// The signet CLI uses it; so can scripts and tests written in Go.
//
// client imports admin and forecast for their types only (the requests, the answers, the
// plan), and never keymgr or server itself: it talks to them over HTTP.
package client
