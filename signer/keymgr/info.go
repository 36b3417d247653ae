package keymgr

import (
	"context"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
)

// DNSSEC is GetDNSSEC's answer: the zone's signing status and its KSKs.
type DNSSEC struct {
	Zone           string          `json:"Zone"`
	Status         Status          `json:"Status"`
	KeySigningKeys []KeySigningKey `json:"KeySigningKeys"`
}

// Status is a zone's signing status, as Route 53's DNSSECStatus.
type Status struct {
	ServeSignature string `json:"ServeSignature"` // SIGNING, NOT_SIGNING, ACTION_NEEDED or INTERNAL_FAILURE
	StatusMessage  string `json:"StatusMessage,omitempty"`
}

// KeySigningKey describes one KSK with Route 53's fields, plus where the key is held and the
// DS and DNSKEY records in zone-file form. It never holds private key material.
type KeySigningKey struct {
	Name                     string    `json:"Name"`
	KeyStore                 string    `json:"KeyStore"` // "tpm" or "soft" (Route 53: KmsArn)
	Flag                     int       `json:"Flag"`
	SigningAlgorithmMnemonic string    `json:"SigningAlgorithmMnemonic"`
	SigningAlgorithmType     int       `json:"SigningAlgorithmType"`
	DigestAlgorithmMnemonic  string    `json:"DigestAlgorithmMnemonic"`
	DigestAlgorithmType      int       `json:"DigestAlgorithmType"`
	KeyTag                   int       `json:"KeyTag"`
	DigestValue              string    `json:"DigestValue"`
	PublicKey                string    `json:"PublicKey"`    // base64, as in the DNSKEY RDATA
	DSRecord                 string    `json:"DSRecord"`     // DS RDATA: "tag alg 2 digest"
	DNSKEYRecord             string    `json:"DNSKEYRecord"` // DNSKEY RDATA: "257 3 alg key"
	DSZoneFile               string    `json:"DSZoneFile"`   // the DS record in zone-file form
	DNSKEYZoneFile           string    `json:"DNSKEYZoneFile"`
	Status                   string    `json:"Status"`
	StatusMessage            string    `json:"StatusMessage,omitempty"`
	CreatedDate              time.Time `json:"CreatedDate"`
	LastModifiedDate         time.Time `json:"LastModifiedDate"`
}

// GetDNSSEC is Route 53's GetDNSSEC: the zone's signing status and every KSK.
func (m *Manager) GetDNSSEC(ctx context.Context, zone string) (*DNSSEC, error) {
	z, err := m.zone(zone)
	if err != nil {
		return nil, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	out := &DNSSEC{Zone: z.name, KeySigningKeys: []KeySigningKey{}}
	out.Status.ServeSignature, out.Status.StatusMessage = z.status()
	if z.st == nil {
		return out, nil
	}
	for _, k := range z.st.KSKs {
		info := KeySigningKey{
			Name:             k.Name,
			KeyStore:         k.Store,
			Flag:             int(dns.ZONE | dns.SEP),
			CreatedDate:      k.Created,
			LastModifiedDate: k.Modified,
		}
		info.Status, info.StatusMessage = kskStatus(k)
		if _, dk, err := m.material(ctx, z, &k.keyRec, dns.ZONE|dns.SEP); err != nil {
			// The public key comes from the keystore; without it the DS cannot be shown.
			info.Status, info.StatusMessage = StatusActionNeeded, "the keystore cannot open the key: "+err.Error()
		} else {
			fillDS(&info, dk)
		}
		out.KeySigningKeys = append(out.KeySigningKeys, info)
	}
	return out, nil
}

// fillDS sets the DNSKEY and SHA-256 DS fields of info from dk (RFC 4034 §5.1.4, RFC 4509).
func fillDS(info *KeySigningKey, dk *dns.DNSKEY) {
	ds := signer.DS(dk)
	info.SigningAlgorithmType = int(dk.Algorithm)
	info.SigningAlgorithmMnemonic = dns.AlgorithmToString[dk.Algorithm]
	info.DigestAlgorithmType = int(ds.DigestType)
	info.DigestAlgorithmMnemonic = "SHA-256"
	info.KeyTag = int(ds.KeyTag)
	info.DigestValue = strings.ToUpper(ds.Digest)
	info.PublicKey = dk.PublicKey
	info.DSRecord = rdata(ds)
	info.DNSKEYRecord = rdata(dk)
	info.DSZoneFile = ds.String()
	info.DNSKEYZoneFile = dk.String()
}

// rdata returns the presentation form of rr's RDATA (the zone-file line minus the header).
func rdata(rr dns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}
