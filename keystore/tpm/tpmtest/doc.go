// Package tpmtest starts a software TPM (swtpm) for tests, so that the TPM
// backend and the server's integration tests run against a real TPM 2.0
// command interface and can kill and restart it.
//
// swtpm is Debian's swtpm package; scripts/install-test-deps.sh installs it.
// When it is missing, StartSWTPM skips the test, or fails it when the
// environment variable CI is "true", so that CI cannot pass by skipping.
//
// It imports no Signet package.
package tpmtest
