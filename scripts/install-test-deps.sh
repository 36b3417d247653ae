#!/usr/bin/env bash
# Installs the Debian tools the tests drive for real: dig/delv (bind9-dnsutils), kdig
# (knot-dnsutils), unbound (the validating resolver), dnssec-dsfromkey (bind9-utils),
# swtpm (the TPM 2.0 simulator), dnsperf, age (recovering a software key by hand), etcd
# (cluster mode), knotd and nsd (zone-transfer peers), ldns-verify-zone (ldnsutils),
# chromium (the status page in a real browser), promtool (alert rules), systemd-analyze
# (the unit file), tpm2-tools and jq (inspecting a TPM-sealed key, as the README shows).
# Idempotent: does nothing when all are present.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have dig || need+=(bind9-dnsutils)
have delv || need+=(bind9-dnsutils)
have kdig || need+=(knot-dnsutils)
have unbound || need+=(unbound)
have unbound-anchor || need+=(unbound-anchor)
have dnssec-dsfromkey || need+=(bind9-utils)
have swtpm || need+=(swtpm swtpm-tools)
have dnsperf || need+=(dnsperf)
have taskset || need+=(util-linux)
have script || need+=(bsdutils)
have age || need+=(age)
have openssl || need+=(openssl)
have etcd || need+=(etcd-server)
have etcdctl || need+=(etcd-client)
have knotd || need+=(knot)
have knotc || need+=(knot)
have nsd || need+=(nsd)
have ldns-verify-zone || need+=(ldnsutils)
have dnssec-verify || need+=(bind9-utils)
have chromium || need+=(chromium)
have promtool || need+=(prometheus)
have systemd-analyze || need+=(systemd)
have tpm2_readpublic || need+=(tpm2-tools)
have jq || need+=(jq)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-test-deps: missing ${need[*]} and not root; install them with apt-get" >&2
  exit 1
fi
# Packages such as unbound must not start their own service on port 53.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u)
# The Debian unbound package may still have enabled a service; keep port 53 free.
for svc in unbound knot nsd etcd prometheus named; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
