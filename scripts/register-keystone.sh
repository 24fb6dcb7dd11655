#!/usr/bin/env bash
# Registers a running stratad in Keystone's service catalog, so that
# OpenStack clients authenticating with Keystone find it: one service per
# API Strata serves, each with public, internal and admin endpoints.
#   volumev3  →  URL/v3/%(project_id)s   (Cinder-shaped: volumes, snapshots)
#   compute   →  URL/v2.1                 (Nova-shaped: servers, createImage)
#   image     →  URL                      (Glance-shaped, read-only: the
#                                          snapshots as images; only where no
#                                          Glance is registered)
# Uses the openstack client with the admin credentials of the environment
# (OS_AUTH_URL, OS_USERNAME, …, or OS_CLOUD). Idempotent: a service named
# strata-<type> is reused and its endpoints replaced.
# In a cloud that already runs Cinder or Nova, register Strata in a region
# of its own (--region) and point clients at it with --os-region-name, or
# register other types and use --os-endpoint-override.
# Usage: scripts/register-keystone.sh URL [--region R] [--type T]…
#        (default types: volumev3 compute)
set -euo pipefail
usage() { echo "usage: $0 URL [--region REGION] [--type volumev3|compute|image]…" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
url=${1%/}; shift
[[ $url == http://* || $url == https://* ]] || usage
region=RegionOne types=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --region) region=${2:?}; shift 2 ;;
    --type) types+=("${2:?}"); shift 2 ;;
    *) usage ;;
  esac
done
[[ ${#types[@]} -gt 0 ]] || types=(volumev3 compute)
command -v openstack >/dev/null ||
  { echo "openstack missing (apt-get install python3-openstackclient)" >&2; exit 1; }

for type in "${types[@]}"; do
  case $type in
    volumev3) endpoint="$url/v3/%(project_id)s" desc="Strata: Cinder-shaped snapshots" ;;
    compute) endpoint="$url/v2.1" desc="Strata: Nova-shaped server actions" ;;
    image) endpoint="$url" desc="Strata: snapshots as Glance v2 images (read-only)" ;;
    *) echo "unknown type $type (volumev3, compute, image)" >&2; exit 2 ;;
  esac
  name="strata-$type"
  id=$(openstack service list -f value -c ID -c Name | awk -v n="$name" '$2 == n {print $1}')
  if [[ -z $id ]]; then
    id=$(openstack service create -f value -c id --name "$name" \
      --description "$desc" "$type")
  else
    for e in $(openstack endpoint list --service "$id" -f value -c ID); do
      openstack endpoint delete "$e"
    done
  fi
  for interface in public internal admin; do
    openstack endpoint create --region "$region" "$id" "$interface" \
      "$endpoint" >/dev/null
  done
  echo "registered $name ($type) at $endpoint in $region"
done
