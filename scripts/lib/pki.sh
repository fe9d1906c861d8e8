# shellcheck shell=bash
# The certificates of the test API servers (scripts/kube-apiserver.sh,
# scripts/cluster.sh): a CA, certificates it signs, and a service-account
# key pair, all valid for two days, with openssl. Source it.

# pki_ca DIR CN: DIR/ca.key and DIR/ca.crt.
pki_ca() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
		-keyout "$1/ca.key" -out "$1/ca.crt" 2>/dev/null
}

# pki_cert DIR NAME SUBJECT [SAN]: DIR/NAME.key and DIR/NAME.crt, signed by
# DIR's CA, for SUBJECT (/CN=…), with subjectAltName SAN if given.
pki_cert() {
	local dir=$1 name=$2 subject=$3 san=${4:-}
	openssl req -newkey rsa:2048 -nodes -subj "$subject" \
		-keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
	local ext=()
	if [ -n "$san" ]; then
		printf 'subjectAltName=%s\n' "$san" >"$dir/$name.ext"
		ext=(-extfile "$dir/$name.ext")
	fi
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
		-days 2 "${ext[@]}" -out "$dir/$name.crt" 2>/dev/null
}

# pki_sa DIR: DIR/sa.key and DIR/sa.pub, the service accounts' signing pair.
pki_sa() {
	openssl genrsa -out "$1/sa.key" 2048 2>/dev/null
	openssl rsa -in "$1/sa.key" -pubout -out "$1/sa.pub" 2>/dev/null
}
