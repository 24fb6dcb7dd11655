#!/usr/bin/env bash
# Writes the tempest.conf that runs Tempest's volume API tests against a
# stratad registered in Keystone's catalog (scripts/register-keystone.sh,
# type volumev3): dynamic credentials (Tempest makes a project and users per
# test class with Keystone's admin), only Cinder's API on (no Nova, Glance,
# Neutron or Swift here), microversions 3.0 to Strata's 3.71.
# Usage: scripts/write-tempest-conf.sh KEYSTONE_V3_URL ADMIN_PASSWORD OUT
#        [--backup] (Cinder's backups on; default off)
#        [--manage-ref TEMPLATE] (manage-existing on: the path of volume
#        %s's disk, e.g. /var/lib/strata/volumes/volume-%s.qcow2)
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: $0 KEYSTONE_V3_URL ADMIN_PASSWORD OUT [--backup] [--manage-ref TEMPLATE]" >&2; exit 2; }
ks=${1%/} password=$2 out=$3 backup=false manage=false manage_ref=""
shift 3
while [[ $# -gt 0 ]]; do
  case $1 in
    --backup) backup=true; shift ;;
    --manage-ref) manage=true; manage_ref=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cat >"$out" <<CONF
[DEFAULT]
log_file = tempest.log
use_stderr = false

[auth]
use_dynamic_credentials = true
admin_username = admin
admin_password = $password
admin_project_name = admin
admin_domain_name = Default
create_isolated_networks = false

[identity]
uri_v3 = $ks
auth_version = v3
region = RegionOne
disable_ssl_certificate_validation = true

[identity-feature-enabled]
api_v2 = false
api_v3 = true

[service_available]
cinder = true
nova = false
glance = false
neutron = false
swift = false

[volume]
catalog_type = volumev3
endpoint_type = publicURL
region = RegionOne
min_microversion = 3.0
max_microversion = 3.71
volume_size = 1
build_interval = 1
build_timeout = 120
storage_protocol = qcow2
vendor_name = Strata
${manage_ref:+manage_volume_ref = source-name,$manage_ref}
manage_snapshot_ref = source-id,%s

[volume-feature-enabled]
backup = $backup
snapshot = true
clone = true
volume_revert = true
manage_volume = $manage
manage_snapshot = true
extend_attached_volume = false
CONF
