package admin

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/signetdns/signet/keymgr"
)

// httpStatus maps each key manager code to the HTTP status Route 53 answers it with: 404 for
// the NoSuch* errors, 409 for KeySigningKeyAlreadyExists, 400 for the other client errors.
var httpStatus = map[string]int{
	keymgr.CodeNoSuchHostedZone:                      http.StatusNotFound,
	keymgr.CodeNoSuchKeySigningKey:                   http.StatusNotFound,
	keymgr.CodeKeySigningKeyAlreadyExists:            http.StatusConflict,
	keymgr.CodeServiceUnavailable:                    http.StatusServiceUnavailable,
	keymgr.CodeInternalFailure:                       http.StatusInternalServerError,
	keymgr.CodeInvalidKeySigningKeyName:              http.StatusBadRequest,
	keymgr.CodeInvalidKeySigningKeyStatus:            http.StatusBadRequest,
	keymgr.CodeInvalidSigningStatus:                  http.StatusBadRequest,
	keymgr.CodeKeySigningKeyInUse:                    http.StatusBadRequest,
	keymgr.CodeKeySigningKeyInParentDSRecord:         http.StatusBadRequest,
	keymgr.CodeTooManyKeySigningKeys:                 http.StatusBadRequest,
	keymgr.CodeDNSSECNotFound:                        http.StatusBadRequest,
	keymgr.CodeInvalidArgument:                       http.StatusBadRequest,
	keymgr.CodeInvalidInput:                          http.StatusBadRequest,
	keymgr.CodeConcurrentModification:                http.StatusBadRequest,
	keymgr.CodeKeySigningKeyWithActiveStatusNotFound: http.StatusBadRequest,
}

// HTTPStatus returns the HTTP status Route 53 answers the error code with (400 for a code it
// does not list).
func HTTPStatus(code string) int {
	if s, ok := httpStatus[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// writeManagerError answers a key manager error: its Route 53 code and status when it is a
// refusal a client can act on; otherwise it is logged here and answered as an internal
// failure without details, which may name files or keys.
func writeManagerError(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *keymgr.Error
	if !errors.As(err, &e) {
		log.Error("admin API", "err", err)
		writeError(w, http.StatusInternalServerError, keymgr.CodeInternalFailure, "internal failure; see the server log")
		return
	}
	writeError(w, HTTPStatus(e.Code), e.Code, e.Message)
}

// writeError answers an ErrorResponse.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorResponse{Error: APIError{Code: code, Message: strings.TrimSpace(msg)}})
}

// writeJSON answers v as indented JSON (people read these answers with curl).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
