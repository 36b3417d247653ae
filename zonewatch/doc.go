// Package zonewatch reloads a zone when its file changes on disk. It watches the directories
// that hold the zone files (inotify through fsnotify), so that the ways editors and
// deployment tools replace a file all count: written in place, renamed over the old one
// (atomic replacement), or a symlink switched to a new target. After the first event it
// waits a quiet period (the debounce) and then reloads each zone whose file's identity, size
// or modification time changed (or, for a file modified too recently for its time to tell
// one write from the next, whose contents changed); a reload that fails keeps the old zone
// serving (the reload function decides that; zonewatch only calls it). A watcher is made
// before the zones are first loaded and Run after, so that no change made in between is lost.
//
// It imports no other Signet package: it is given file paths and a reload function.
package zonewatch
