package admin

import (
	"crypto/subtle"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/signetdns/signet/keymgr"
)

// guard is what every request passes before the API sees it. The admin API can change what
// validating resolvers think of a zone (disable signing, delete a KSK), so it must not be
// drivable by a web page in the operator's browser: a cross-site "simple request" (a POST with
// Content-Type text/plain needs no CORS preflight) or a page whose DNS name was rebound to
// 127.0.0.1. Browsers always mark the first with an Origin header and cannot choose the Host
// header of the second; neither can they set an Authorization header on a cross-site request
// without a preflight this API never grants.
type guard struct {
	next http.Handler
	// bearer is "Bearer <token>", required on every path but the open ones; nil on the
	// control socket, where reaching the socket (0600 in a 0700 directory) is the proof.
	bearer []byte
	// open are the read-only paths served without the token (liveness, metrics).
	open map[string]bool
	// hostOK accepts the Host header; nil on the control socket, which no browser reaches.
	hostOK func(host string) bool
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := r.Header["Origin"]; ok || crossSite(r.Header.Get("Sec-Fetch-Site"), r.Method) {
		writeError(w, http.StatusForbidden, CodeAccessDenied, "requests from web pages (an Origin header) are refused")
		return
	}
	if g.hostOK != nil && !g.hostOK(r.Host) {
		writeError(w, http.StatusForbidden, CodeAccessDenied, "Host "+strconv.Quote(r.Host)+" is not this listener's address")
		return
	}
	if g.bearer != nil && !g.open[r.URL.Path] && !uiFile(r) && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), g.bearer) != 1 {
		writeError(w, http.StatusUnauthorized, CodeAccessDenied, "missing or wrong bearer token")
		return
	}
	ct := r.Header.Get("Content-Type")
	if r.ContentLength != 0 || ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, keymgr.CodeInvalidInput, "a request body must be JSON (Content-Type: application/json)")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	g.next.ServeHTTP(w, r)
}

// crossSite reports whether a Sec-Fetch-Site value says another web page sent the request
// (a request the user typed into the address bar says "none"). A read (GET, HEAD) from a
// page of this very listener says "same-origin": that is the status page (/ui/) reading the
// API, and no other page can be same-origin, since the Host check refuses a name rebound to
// this address. Everything else, and any same-origin request that could change something,
// is refused.
func crossSite(v, method string) bool {
	if v == "same-origin" {
		return method != http.MethodGet && method != http.MethodHead
	}
	return v != "" && v != "none"
}

// UIPath is where the status page is served.
const UIPath = "/ui/"

// uiFile reports whether r asks for one of the status page's own files: they hold no data,
// so they need no token (the page sends the token, from its URL fragment, with its data
// calls).
func uiFile(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && (r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, UIPath))
}

// hostChecker accepts a Host header naming the listener at la: its own address and port, the
// loopback forms of it ("localhost", 127.0.0.1, [::1]) when it listens on loopback or on every
// interface, any IP address when it listens on every interface (an IP literal cannot be
// rebound), and the extra host names the operator configured. Any other DNS name could have
// been rebound by a web page to this address.
func hostChecker(la *net.TCPAddr, extra []string) func(string) bool {
	port := strconv.Itoa(la.Port)
	self, _ := netip.AddrFromSlice(la.IP)
	self = self.Unmap()
	return func(host string) bool {
		h, p, err := net.SplitHostPort(host)
		if err != nil {
			h, p = host, "80"
		}
		if p != port {
			return false
		}
		h = strings.TrimSuffix(strings.ToLower(h), ".")
		for _, e := range extra {
			if eh, _, err := net.SplitHostPort(e); err == nil {
				e = eh
			}
			if strings.EqualFold(strings.TrimSuffix(e, "."), h) {
				return true
			}
		}
		anyIf := self.IsUnspecified()
		if h == "localhost" {
			return self.IsLoopback() || anyIf
		}
		ip, err := netip.ParseAddr(h)
		if err != nil {
			return false
		}
		ip = ip.Unmap()
		return anyIf || ip == self || (self.IsLoopback() && ip.IsLoopback())
	}
}
