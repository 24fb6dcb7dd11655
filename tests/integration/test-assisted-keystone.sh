#!/usr/bin/env bash
# os-assisted-volume-snapshots with Keystone (issue 5): the whole of
# test-assisted-snapshots.sh, with Debian's keystone validating the tokens
# of Cinder (keystonemiddleware) and of Strata, Strata reporting to the
# Cinder it finds in the caller's token catalog ([cinder] catalog_info's
# default, volumev3::publicURL), and python3-novaclient finding Strata as
# the catalog's compute service.
AVS_AUTH=keystone exec bash "$(dirname "$0")/test-assisted-snapshots.sh"
