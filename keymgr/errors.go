package keymgr

import (
	"context"
	"errors"
	"fmt"

	"github.com/signetdns/signet/keystore"
)

// Error codes, Route 53's names for the same failures (Route 53 API reference, "Errors" of
// CreateKeySigningKey, ActivateKeySigningKey, DeactivateKeySigningKey, DeleteKeySigningKey,
// EnableHostedZoneDNSSEC, DisableHostedZoneDNSSEC and GetDNSSEC).
const (
	CodeNoSuchHostedZone                      = "NoSuchHostedZone"
	CodeNoSuchKeySigningKey                   = "NoSuchKeySigningKey"
	CodeKeySigningKeyAlreadyExists            = "KeySigningKeyAlreadyExists"
	CodeInvalidKeySigningKeyName              = "InvalidKeySigningKeyName"
	CodeInvalidKeySigningKeyStatus            = "InvalidKeySigningKeyStatus"
	CodeInvalidSigningStatus                  = "InvalidSigningStatus"
	CodeKeySigningKeyInUse                    = "KeySigningKeyInUse"
	CodeKeySigningKeyInParentDSRecord         = "KeySigningKeyInParentDSRecord"
	CodeKeySigningKeyWithActiveStatusNotFound = "KeySigningKeyWithActiveStatusNotFound"
	CodeTooManyKeySigningKeys                 = "TooManyKeySigningKeys"
	CodeDNSSECNotFound                        = "DNSSECNotFound"
	CodeInvalidArgument                       = "InvalidArgument"
	CodeInvalidInput                          = "InvalidInput"
	CodeConcurrentModification                = "ConcurrentModification"
	CodeServiceUnavailable                    = "ServiceUnavailable"
	CodeInternalFailure                       = "InternalFailure"
)

// Error is an operation's refusal, with Route 53's error code. Operations return it (wrapped
// or not) for every failure a client can act on; anything else is an internal failure.
type Error struct {
	Code    string // one of the Code* constants
	Message string
	Err     error // the cause, if any (not shown to API clients)
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the Route 53 error code of err, or CodeInternalFailure when err is not
// (and does not wrap) an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternalFailure
}

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ZoneError is AddZone's failure to start one zone that leaves the others unaffected: the
// zone's state documents cannot be read or decoded, its keys cannot be created, read or
// decrypted, or no key ring can be built from them. A server can then serve its other zones
// and add this one again later; a zone whose start failed leaves nothing behind that the
// next AddZone would not clean up or reuse. A failure of the whole start (cancelled, the
// keystore closed, a state store that does not answer in time) is never a ZoneError; a
// keystore passphrase is for the host to check before it adds zones.
type ZoneError struct {
	Zone string
	Err  error
}

func (e *ZoneError) Error() string { return e.Err.Error() }

func (e *ZoneError) Unwrap() error { return e.Err }

// zoneOnly returns err, the failure to start zone, as a *ZoneError unless it concerns more
// than the zone: ctx ended, the keystore is closed, or the state store did not answer in
// time.
func zoneOnly(ctx context.Context, zone string, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, keystore.ErrClosed) {
		return err
	}
	return &ZoneError{Zone: zone, Err: err}
}
