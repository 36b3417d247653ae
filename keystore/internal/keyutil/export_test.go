package keyutil

import "crypto/x509"

var marshal = x509.MarshalPKCS8PrivateKey
