#!/usr/bin/env bash
# Makes sure the base images of the Dockerfiles exist, and prints the build
# arguments that name them:
#
#   GO_IMAGE=...
#   ALPINE_IMAGE=...
#   CERTS_IMAGE=...   (imgcompare's image takes its CA bundle from it)
#
# It uses the upstream images (golang:1.26-alpine, alpine:3.22) when they
# are present or can be pulled. Where no registry answers, it builds local
# stand-ins from what is on this machine instead, named local/..., so no
# figure measured on a stand-in passes for one of the upstream images:
#   local/golang:1.26-standin  the installed Go toolchain ($(go env GOROOT))
#                              plus Debian's busybox-static as /bin/sh
#   local/alpine:standin       busybox-static and an /etc/passwd, a small
#                              alpine-like runtime
#   local/ca-certificates:standin  Debian's CA bundle alone, at the path
#                              alpine has it (/etc/ssl/certs/ca-certificates.crt)
# Set BASE_IMAGES=standin to skip the pull attempts.
#
# With --push REGISTRY, a stand-in is pushed to REGISTRY/docker_multistage/
# and named there, for a builder that cannot see the engine's images
# (buildkitd); an upstream image is left for the builder to pull.
set -euo pipefail

push=""
if [ "${1:-}" = --push ]; then
	push=${2:?base-images: --push needs a registry}
fi

go_upstream=${GO_IMAGE:-golang:1.26-alpine}
alpine_upstream=${ALPINE_IMAGE:-alpine:3.22}
go_standin=local/golang:1.26-standin
alpine_standin=local/alpine:standin

have() { docker image inspect "$1" >/dev/null 2>&1; }

# usable IMAGE: present, or pulled within 20 seconds.
usable() {
	have "$1" && return 0
	[ "${BASE_IMAGES:-}" = standin ] && return 1
	echo "base-images: pulling $1" >&2
	timeout 20 docker pull -q "$1" >/dev/null 2>&1
}

busybox_rootfs() {
	local root=$1 busybox
	busybox=$(command -v busybox) || { echo "base-images: busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
	if ! file_is_static "$busybox"; then
		echo "base-images: $busybox is not static (apt-get install busybox-static)" >&2
		exit 1
	fi
	mkdir -p "$root"/{bin,etc,tmp,root,usr/bin,usr/sbin,sbin}
	chmod 1777 "$root/tmp"
	cp "$busybox" "$root/bin/busybox"
	local applet
	for applet in $("$busybox" --list); do
		[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$root/etc/group"
}

file_is_static() { ! ldd "$1" >/dev/null 2>&1; }

import_rootfs() {
	local root=$1 tag=$2 description=$3
	shift 3
	local changes=(--change "LABEL org.opencontainers.image.description=\"$description\"")
	for c in "$@"; do changes+=(--change "$c"); done
	tar --numeric-owner --owner=0 --group=0 -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
	echo "base-images: made $tag ($description)" >&2
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if usable "$go_upstream"; then
	go_image=$go_upstream
else
	go_image=$go_standin
	if ! have "$go_standin"; then
		goroot=$(go env GOROOT)
		busybox_rootfs "$work/go"
		mkdir -p "$work/go/usr/local" "$work/go/go/bin"
		cp -a "$goroot" "$work/go/usr/local/go"
		import_rootfs "$work/go" "$go_standin" "stand-in for golang:1.26-alpine: $(go version | cut -d' ' -f3) from $goroot and busybox-static" \
			"ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
			"ENV GOPATH=/go" "ENV GOTOOLCHAIN=local" "ENV HOME=/root" "WORKDIR /go" 'CMD ["/bin/sh"]'
	fi
fi

if usable "$alpine_upstream"; then
	alpine_image=$alpine_upstream
else
	alpine_image=$alpine_standin
	if ! have "$alpine_standin"; then
		busybox_rootfs "$work/alpine"
		import_rootfs "$work/alpine" "$alpine_standin" "stand-in for alpine:3.22: busybox-static and /etc/passwd" \
			"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" 'CMD ["/bin/sh"]'
	fi
fi

if [ "$alpine_image" = "$alpine_upstream" ]; then
	certs_image=$alpine_upstream
else
	certs_image=local/ca-certificates:standin
	if ! have "$certs_image"; then
		bundle=/etc/ssl/certs/ca-certificates.crt
		[ -s "$bundle" ] || { echo "base-images: $bundle is missing (apt-get install ca-certificates)" >&2; exit 1; }
		mkdir -p "$work/certs/etc/ssl/certs"
		cp "$bundle" "$work/certs/etc/ssl/certs/"
		import_rootfs "$work/certs" "$certs_image" "stand-in for alpine:3.22's CA bundle: Debian's ca-certificates"
	fi
fi

pushed() {
	if [ -n "$push" ] && [[ $1 == local/* ]]; then
		local ref=$push/docker_multistage/${1#local/}
		docker tag "$1" "$ref"
		docker push -q "$ref" >/dev/null
		echo "$ref"
	else
		echo "$1"
	fi
}
echo "GO_IMAGE=$(pushed "$go_image")"
echo "ALPINE_IMAGE=$(pushed "$alpine_image")"
echo "CERTS_IMAGE=$(pushed "$certs_image")"
