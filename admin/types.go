package admin

import (
	"net/url"
	"strings"

	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/server"
)

// DNSSEC is the answer of every successful DNSSEC call: the zone's GetDNSSEC.
type DNSSEC = keymgr.DNSSEC

// CreateKSKRequest is the body of CreateKeySigningKey (POST .../dnssec/ksks).
type CreateKSKRequest struct {
	// Name is the KSK's name, unique in the zone (Route 53: 3-128 of [a-zA-Z0-9_]).
	Name string `json:"Name"`
	// Status is ACTIVE (the default when empty) or INACTIVE.
	Status string `json:"Status,omitempty"`
}

// ZoneStatus is one configured zone's load state: loaded or not (SERVFAIL), its serial, the
// last load's error with file and line.
type ZoneStatus = server.ZoneStatus

// ZonesResponse is the answer of GET /v1/zones: every configured zone, in configuration order.
type ZonesResponse struct {
	Zones []ZoneStatus `json:"Zones"`
}

// ZonesPath is the path of the zone list.
const ZonesPath = "/v1/zones"

// ReloadResponse is the answer of POST /v1/reload.
type ReloadResponse struct {
	Status string `json:"Status"` // "reloaded"
}

// ErrorResponse is the body of every refusal: {"Error": {"Code", "Message"}}, as Route 53's
// REST API answers.
type ErrorResponse struct {
	Error APIError `json:"Error"`
}

// APIError is a refusal's Route 53 error code (keymgr.Code*, or one of the codes below) and
// a message for people.
type APIError struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

// Codes of refusals made by the API itself rather than by the key manager.
const (
	// CodeInvalidZoneFile: a reload found a zone file it could not load (the old zone is
	// still served).
	CodeInvalidZoneFile = "InvalidZoneFile"
	// CodeAccessDenied: missing or wrong credentials.
	CodeAccessDenied = "AccessDenied"
)

// Roles of Rollover's role parameter.
const (
	RoleKSK = "ksk"
	RoleZSK = "zsk"
)

// ReloadPath is the path of the zone reload call.
const ReloadPath = "/v1/reload"

// ClusterPath is the cluster's status (GET): the key leader, each instance's served state
// revision and zone serials, etcd's health, problems.
const ClusterPath = "/v1/cluster"

// ZonePath is the path of a zone's DNSSEC resource, followed by the escaped segments rest
// ("enable", "ksks", a KSK's name, ...). The zone is made lower case and fully qualified, as
// the key manager names zones.
func ZonePath(zone string, rest ...string) string {
	zone = strings.ToLower(zone)
	if !strings.HasSuffix(zone, ".") {
		zone += "."
	}
	p := "/v1/zones/" + url.PathEscape(zone) + "/dnssec"
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}
