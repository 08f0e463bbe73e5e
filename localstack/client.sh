#!/usr/bin/env bash
# Installs $PACKAGE from the rpmbucket repository at $BASEURL with dnf (the `client` service).
set -euo pipefail
: "${BASEURL:?}" "${PACKAGE:?}"
dnf --setopt=reposdir=/dev/null --repofrompath="rpmbucket,$BASEURL" --repo rpmbucket \
    --setopt=rpmbucket.gpgcheck=0 --setopt=rpmbucket.metadata_expire=0 -y install "$PACKAGE"
rpm -q "$PACKAGE"
