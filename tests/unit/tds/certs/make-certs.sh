#!/usr/bin/env bash
# How the checked-in test certificates were made (OpenSSL 3.0). cryptography's
# CertificateBuilder refuses MD5/SHA1 signatures (reference/tds-tls-probing.md
# section 8), so these come from `openssl req`. Keys are thrown away: the unit
# tests only parse the certificates.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for hash in md5 sha1 sha224 sha512; do
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "rsa-$hash.pem" \
        -days 3650 -subj "/CN=$hash.test" "-$hash"
done
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out rsa-pss.pem -days 3650 \
    -subj "/CN=pss.test" -sigopt rsa_padding_mode:pss -sha384 -sigopt rsa_pss_saltlen:32
