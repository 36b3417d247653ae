// Package dsboot works out the signalling records of RFC 9615 (automatic DNSSEC bootstrapping)
// and keeps them published. For every signed zone served here that publishes CDS/CDNSKEY, and
// every name server hostname of its NS RRset that lies outside it, the records are copies of
// the zone's CDS and CDNSKEY RRsets at _dsboot.<zone>._signal.<hostname>, published in the
// signed zone served here that holds that name and signed with that zone's keys, so that a
// parent can validate the child's CDS/CDNSKEY through the name server's chain of trust before
// the child has one of its own.
//
// It decides what to publish (Compute) and follows the zones and key rings as they change
// (Publisher); the zone snapshots themselves carry the records (zones.Zone.With), so answers,
// denial of existence and the NSEC chain treat them as any other zone data.
//
// dsboot imports zones and signer; never server or keymgr: it reads the zones and key rings
// through small interfaces (Zones, Keys) and publishes through a function (Config.Apply).
package dsboot
