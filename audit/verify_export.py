"""Check an audit export against its signed manifest, offline.

    python -m audit.verify_export DATA_FILE MANIFEST_FILE --public-key KEY

KEY is the portal's audit public key: base64 or hex of its 32 bytes (what
``manage.py audit_public_key`` prints), or a PEM file. No database and no
Django settings are needed. It checks the manifest's Ed25519 signature, the
SHA-256 of the data file, its row count, and its first and last rows; exit
status 0 means the file is exactly what the portal exported.
"""

import argparse
import sys
from pathlib import Path

from audit import manifest
from portal.crypto.signing import SigningKeyError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the exported .csv or .jsonl file")
    parser.add_argument("manifest", type=Path, help="its manifest.json")
    parser.add_argument(
        "--public-key", required=True, help="base64 or hex public key, or a PEM file path"
    )
    args = parser.parse_args(argv)
    key = args.public_key
    if Path(key).is_file():
        key = Path(key).read_text()
    try:
        found = manifest.problems(args.data, manifest.load(args.manifest), key)
    except (OSError, ValueError, SigningKeyError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 2
    if found:
        for problem in found:
            print(f"FAILED: {problem}", file=sys.stderr)
        return 1
    doc = manifest.load(args.manifest)
    signer = doc["signature"]["key_id"]
    print(f"OK: {doc['row_count']} rows, sha256 {doc['sha256']}, signed by key {signer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
