// Package deploy holds what runs Signet as a service: the systemd unit (signet.service), an
// example configuration (signet.yaml) and the Prometheus alert rules (prometheus/). It has no
// code; its tests check those files with the tools that consume them (systemd-analyze,
// promtool) and check that `make install` puts them where DESTDIR and PREFIX say. Those tests
// import no Signet package.
package deploy
