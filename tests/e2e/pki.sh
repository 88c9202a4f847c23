#!/bin/sh
# Generates the test PKI into DIR with the openssl command line only.
#
#   root.pem/.key          CN=Sipsgate Test Root CA
#   inter.pem/.key         CN=Phones Intermediate CA, signed by the root, pathlen:0
#   server-chain.pem/server.key
#                          CN=sips.example.com (SAN sips.example.com, localhost,
#                          127.0.0.1, ::1), leaf + intermediate
#   server-next-chain.pem/server-next.key
#                          the same names with a new key and serial, for rotation
#   server-rsa-chain.pem/server-rsa.key
#                          the same names with an RSA 2048 key
#   server-short-chain.pem/server-short.key
#                          the same names, valid for 10 days only
#   sni-chain.pem/sni.key  CN=phones.example.org (SAN phones.example.org)
#   alice.pem, alice-chain.pem, alice.key   phone leaf, SAN URI:sip:alice@example.com
#   bob.pem, bob-chain.pem, bob.key         the same for bob
#   carol.pem, carol-chain.pem, carol.key   the same for carol, revoked in inter.crl
#   inter.crl              CRL of the intermediate, listing carol
#   root.crl               CRL of the root, empty
#   crls.pem               inter.crl and root.crl, for crl_check = chain
#   phones-ca.pem          root only, so a phone must send its intermediate
#   phones-ca-full.pem     root + intermediate, so a phone may send only its leaf
#   rogue.pem/.key         CN=Rogue CA, an untrusted root
#   mallory.pem, mallory-chain.pem, mallory.key
#                          phone leaf signed by the rogue root (the chain file
#                          adds the rogue root itself)
#   expired.pem, expired-chain.pem, expired.key
#                          phone leaf signed by the intermediate, valid only in
#                          January 2020
#   backend-chain.pem/backend.key, backend-ca.pem
#                          CN=127.0.0.1 for a TLS backend, and its trust store
#
# All keys are EC P-256 and mode 0600. Running it again on a complete DIR does
# nothing. Prints nothing on success.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1

outputs="root.pem root.key inter.pem inter.key server-chain.pem server.key
server-next-chain.pem server-next.key server-rsa-chain.pem server-rsa.key
server-short-chain.pem server-short.key sni-chain.pem sni.key
alice.pem alice-chain.pem alice.key bob.pem bob-chain.pem bob.key
carol.pem carol-chain.pem carol.key inter.crl root.crl crls.pem
phones-ca.pem phones-ca-full.pem rogue.pem rogue.key
mallory.pem mallory-chain.pem mallory.key
expired.pem expired-chain.pem expired.key
backend-chain.pem backend.key backend-ca.pem"

mkdir -p "$dir"
cd "$dir"

complete=yes
for f in $outputs; do
	[ -s "$f" ] || complete=no
done
[ "$complete" = yes ] && exit 0

# Keys are created under this umask, so no other user can read them even
# while they are being written. Certificates are made readable at the end.
umask 077
log=pki.log
: > "$log"

# Runs one openssl command with its output sent to the log. When the command
# fails, the script prints the log and stops.
run() {
	if ! "$@" >> "$log" 2>&1; then
		echo "pki.sh: failed: $*" >&2
		cat "$log" >&2
		exit 1
	fi
}

# Long enough that the daemon's 30-day expiry warning stays quiet.
days=365
newkey="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc"

phone_section() {
	cat <<EOF
[$1_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth, serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = URI:sip:$1@example.com

EOF
}

# One config serves every step. "openssl req" requires a distinguished_name
# section even when -subj gives the name, and "openssl ca", used for the
# expired certificate and the CRLs, requires a database and a policy.
{
	cat <<EOF
[req]
distinguished_name = dn

[dn]

[root_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[inter_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:sips.example.com, DNS:localhost, IP:127.0.0.1, IP:::1

[sni_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:phones.example.org

[backend_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1, DNS:localhost

[inter_ca]
database = ca-db/inter-index.txt
new_certs_dir = ca-db
certificate = inter.pem
private_key = inter.key
rand_serial = yes
default_md = sha256
default_crl_days = $days
policy = ca_policy
unique_subject = no
email_in_dn = no

[root_ca]
database = ca-db/root-index.txt
new_certs_dir = ca-db
certificate = root.pem
private_key = root.key
default_md = sha256
default_crl_days = $days
policy = ca_policy

[ca_policy]
commonName = supplied

EOF
	for p in alice bob carol mallory expired; do
		phone_section "$p"
	done
} > pki.cnf

# root_ca NAME CN
root_ca() {
	run openssl req -x509 -new $newkey -keyout "$1.key" -out "$1.pem" \
	    -subj "/CN=$2" -days $days -config pki.cnf -extensions root_ext
}

# leaf NAME CN SECTION ISSUER [DAYS [KEYOPTIONS]]
leaf() {
	run openssl req -x509 -new ${6:-$newkey} -keyout "$1.key" \
	    -out "$1.pem" -subj "/CN=$2" -days "${5:-$days}" -config pki.cnf \
	    -extensions "$3" -CA "$4.pem" -CAkey "$4.key"
}

root_ca root "Sipsgate Test Root CA"
leaf inter "Phones Intermediate CA" inter_ext root

for s in server server-next; do
	leaf "$s" sips.example.com server_ext inter
	cat "$s.pem" inter.pem > "$s-chain.pem"
done
leaf server-rsa sips.example.com server_ext inter $days \
    "-newkey rsa:2048 -noenc"
cat server-rsa.pem inter.pem > server-rsa-chain.pem
leaf server-short sips.example.com server_ext inter 10
cat server-short.pem inter.pem > server-short-chain.pem
leaf sni phones.example.org sni_ext inter
cat sni.pem inter.pem > sni-chain.pem

for p in alice bob carol; do
	leaf "$p" "$p" "${p}_ext" inter
	cat "$p.pem" inter.pem > "$p-chain.pem"
done

cat root.pem > phones-ca.pem
cat root.pem inter.pem > phones-ca-full.pem

root_ca rogue "Rogue CA"
leaf mallory mallory mallory_ext rogue
cat mallory.pem rogue.pem > mallory-chain.pem

# OpenSSL 3.0's "x509 -days" and "req -days" cannot produce a notAfter in
# the past, but "openssl ca" takes explicit -startdate and -enddate.
rm -rf ca-db
mkdir ca-db
: > ca-db/inter-index.txt
: > ca-db/root-index.txt
run openssl req -new $newkey -keyout expired.key -out expired.csr \
    -subj "/CN=expired" -config pki.cnf
run openssl ca -batch -notext -config pki.cnf -name inter_ca \
    -extensions expired_ext -startdate 200101000000Z -enddate 200201000000Z \
    -in expired.csr -out expired.pem
cat expired.pem inter.pem > expired-chain.pem

# "openssl ca -revoke" records a certificate it did not issue as revoked,
# so carol, made with "openssl req" above, can be revoked too.
run openssl ca -batch -config pki.cnf -name inter_ca -revoke carol.pem
run openssl ca -batch -config pki.cnf -name inter_ca -gencrl -out inter.crl
run openssl ca -batch -config pki.cnf -name root_ca -gencrl -out root.crl
cat inter.crl root.crl > crls.pem
rm -rf ca-db expired.csr

leaf backend 127.0.0.1 backend_ext inter
mv backend.pem backend-leaf.pem
cat backend-leaf.pem inter.pem > backend-chain.pem
cat root.pem > backend-ca.pem

for f in *.pem *.crl; do
	chmod 0644 "$f"
done
rm -f "$log"
