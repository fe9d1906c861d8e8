#!/usr/bin/env bash
# Installs, from Debian's packages, what the tests and scripts need: the
# Docker engine and runc (which buildkitd runs builds with too), a browser
# for the browser test, busybox for the local stand-in base images, qemu
# for the arm64 and arm/v7 binaries, the load tools, and
# skopeo, whose OCI archives and layouts imgcompare is tested on, etcd and
# openssl for the Kubernetes API server of the deployment tests, and the
# distribution registry with htpasswd for the registry tests, and
# debootstrap for a real Debian tree to test imgcompare on, and xmllint
# to validate its JUnit XML against the schemas CI tools read, jq for the
# GitHub Action, shellcheck for its scripts (make lint), and the CNI
# plugins and iptables of the test cluster (runc runs its pods too).
set -euo pipefail

packages=(make curl iproute2 time openssl docker.io runc chromium busybox-static qemu-user-static wrk nginx-light slowhttptest skopeo etcd-server docker-registry apache2-utils debootstrap libxml2-utils jq shellcheck ca-certificates containernetworking-plugins iptables)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all present: ${packages[*]}"
	exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
