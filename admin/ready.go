package admin

import "net/http"

// ReadyPath is the readiness probe: 200 when the server serves everything it should, 503
// otherwise. /healthz only says the process is up.
const ReadyPath = "/readyz"

// Readiness is the answer of GET /readyz.
type Readiness struct {
	// Ready is set when every zone is loaded and every signed zone can sign.
	Ready bool            `json:"Ready"`
	Zones []ZoneReadiness `json:"Zones"`
	// Cluster is this instance's part in its cluster; nil for a single server. An instance
	// that cannot reach etcd stays ready (it serves its ring), and says so here.
	Cluster *ClusterReadiness `json:"Cluster,omitempty"`
}

// ClusterReadiness is a cluster instance's part of the readiness probe.
type ClusterReadiness struct {
	Instance string `json:"Instance"`
	// Leader is the key leader's name as last seen; Leading: this instance is it.
	Leader  string `json:"Leader"`
	Leading bool   `json:"Leading"`
	// EtcdUp: etcd answered this instance's last request; without it no rollover step
	// happens and the ring served stays as it is.
	EtcdUp bool `json:"EtcdUp"`
}

// ZoneReadiness is one zone's part of the readiness probe.
type ZoneReadiness struct {
	Zone string `json:"Zone"`
	// Loaded: the zone has servable data (a stale version counts: it is served).
	Loaded bool `json:"Loaded"`
	// Signed: the zone is DNSSEC-signed; CanSign: its answers can be signed now.
	Signed  bool `json:"Signed"`
	CanSign bool `json:"CanSign"`
	// Reason says what is missing when the zone is not ready.
	Reason string `json:"Reason,omitempty"`
}

func registerReady(mux *http.ServeMux, ready func() Readiness) {
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		rd := ready()
		status := http.StatusOK
		if !rd.Ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, rd)
	})
}
