// Package syncbuf holds Buffer, a text buffer safe for concurrent writes: tests hand one to a
// logger or a child process's output, which write from their own goroutines, and read it
// while they run. It imports only the standard library.
package syncbuf
