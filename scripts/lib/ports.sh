# shellcheck shell=bash
# The ports the test daemons listen on, on 127.0.0.1, in one place, each
# overridable from the environment. Source it.
# shellcheck disable=SC2034 # the scripts that source this file read them
registry_port=${REGISTRY_PORT:-15000}    # the open registry; the one behind basic auth is the next
kube_api_port=${KUBE_API_PORT:-16443}    # scripts/kube-apiserver.sh
kube_etcd_port=${KUBE_ETCD_PORT:-12379}  # its etcd's clients; its peers are the next
