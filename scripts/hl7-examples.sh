#!/usr/bin/env bash
# Fetches HL7's official FHIR R4 examples (npm package hl7.fhir.r4.examples@4.0.1,
# CC0) into var/cache/hl7.fhir.r4.examples-4.0.1/ once, for the tests that load them
# into a real FHIR server (tests/ehr_fixtures.py). A no-op when the cache is there.
# The package is 18 MB packed, 190 MB unpacked; it is never committed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGE=hl7.fhir.r4.examples
VERSION=4.0.1
# The registry's integrity of that tarball; a different file is refused.
INTEGRITY=sha512-DXBdIZOeQaSKIgCU7w6HOC7sw/6BzylmipLkBW4f//pT+Bc94x+8LImwTdvaNThPJoOzpBzvxAzNqjeu3X/zLw==
CACHE=var/cache/$PACKAGE-$VERSION

[[ -f $CACHE/package.json ]] && exit 0

echo "Fetching $PACKAGE@$VERSION into $CACHE"
mkdir -p var/cache
tmp=$(mktemp -d var/cache/.hl7-examples.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# npm pack only downloads (it runs no package scripts) and checks the registry's integrity.
(cd "$tmp" && npm pack "$PACKAGE@$VERSION" --silent --no-fund --no-audit >/dev/null)
tarball=$tmp/$PACKAGE-$VERSION.tgz
actual=$(python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")
if [[ $actual != "$INTEGRITY" ]]; then
    echo "$PACKAGE@$VERSION: unexpected tarball ($actual)" >&2
    exit 1
fi
mkdir "$tmp/package"
tar -xzf "$tarball" -C "$tmp/package" --strip-components=1 --no-same-owner
rm -rf "$CACHE"
mv "$tmp/package" "$CACHE"
