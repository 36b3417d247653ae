package main

import (
	"fmt"
	"net"
	"os"
)

// sdNotify sends state (READY=1, STOPPING=1, ...) to the service manager when it asked for
// it through $NOTIFY_SOCKET (systemd's Type=notify, sd_notify(3)). Without the variable it
// does nothing. The protocol is one datagram on a unix socket, so no library is needed; an
// '@' names a socket in the abstract namespace.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}
