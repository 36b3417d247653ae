package keymgr

import (
	"errors"
	"fmt"
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
