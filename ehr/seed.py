"""Load resources into the demo EHR over HTTPS, with only the standard library.

    python -m ehr.seed --base-url URL --ca-bundle CERT --token-file FILE \\
        [--wait SECONDS] [--pid PID]

waits until the server answers, then seeds the demo patients (ehr/demo_data.py)
and the load-test patients (ehr/load_data.py) idempotently: resources that
already hold the same content are left alone, so their versionId and
lastUpdated stay put and the portal's incremental sync has nothing new to fetch;
changed or missing ones are written in one transaction Bundle; demo resources no
longer generated are deleted.
"""

import argparse
import datetime as dt
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ehr import demo_data, load_data

# Patients per search when reading back what the server holds.
SEARCH_BATCH = 10


class SeedError(Exception):
    pass


class FhirWriter:
    """Just enough of a FHIR client to fill a server: search, transaction, delete."""

    def __init__(self, base_url: str, *, ca_bundle: str | Path, token: str, timeout: float = 60):
        if not base_url.startswith("https://"):
            raise SeedError("the demo EHR is only spoken to over HTTPS")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._context = ssl.create_default_context(cafile=str(ca_bundle))
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2

    def request(self, method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
        if not url.startswith(self.base_url + "/") and url != self.base_url:
            raise SeedError(f"refusing to follow {url} away from {self.base_url}")
        headers = {
            "Accept": "application/fhir+json",
            "Authorization": f"Bearer {self._token}",
            # An unknown search parameter is an error, not silently ignored (which would
            # widen a search meant for one patient to everyone).
            "Prefer": "handling=strict",
        }
        if body is not None:
            headers["Content-Type"] = "application/fhir+json; charset=utf-8"
        # The scheme is https, checked in __init__, and the host ours, checked above.
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
        try:
            response = urllib.request.urlopen(  # noqa: S310
                request, timeout=self._timeout, context=self._context
            )
            with response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, json.loads(raw) if raw.strip() else None

    def wait_until_up(self, timeout: float, *, pid: int | None = None) -> float:
        """Seconds until GET [base]/metadata answered 200; SeedError past the timeout."""
        started = time.monotonic()
        while True:
            if pid is not None and not _alive(pid):
                raise SeedError(f"the server (pid {pid}) exited while starting")
            try:
                status, _ = self.request("GET", f"{self.base_url}/metadata")
                if status == 200:
                    return time.monotonic() - started
            except (OSError, ValueError):
                pass
            if time.monotonic() - started > timeout:
                raise SeedError(f"no answer from {self.base_url} within {timeout:.0f} s")
            time.sleep(0.1)

    def search(self, resource_type: str, params: dict[str, str]) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode(params)
        url: str | None = f"{self.base_url}/{resource_type}?{query}"
        found: list[dict[str, Any]] = []
        while url:
            status, bundle = self.request("GET", url)
            if status != 200:
                raise SeedError(f"search {resource_type} answered {status}: {_diagnostics(bundle)}")
            found += [e["resource"] for e in bundle.get("entry", []) if "resource" in e]
            url = next((x["url"] for x in bundle.get("link", []) if x["relation"] == "next"), None)
        return [r for r in found if r.get("resourceType") == resource_type]

    def put_all(self, resources: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """PUT every resource (client-chosen ids) in one transaction; the stored copies."""
        return self._transaction(
            {
                "fullUrl": f"{self.base_url}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        )

    def delete_all(self, keys: Iterable[tuple[str, str]]) -> None:
        self._transaction(
            {"request": {"method": "DELETE", "url": f"{rtype}/{rid}"}} for rtype, rid in keys
        )

    def _transaction(self, entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}
        if not bundle["entry"]:
            return []
        # demo_data.dumps keeps decimals as written (7.10, not 7.1) on the wire.
        status, reply = self.request("POST", self.base_url, demo_data.dumps(bundle).encode("utf-8"))
        if status != 200:
            raise SeedError(f"transaction answered {status}: {_diagnostics(reply)}")
        return [e["resource"] for e in reply.get("entry", []) if "resource" in e]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; /proc tells whether it really runs.
    try:
        return Path(f"/proc/{pid}/status").read_text().find("\nState:\tZ") < 0
    except OSError:
        return True


def _diagnostics(outcome: Any) -> str:
    if isinstance(outcome, dict):
        return "; ".join(str(i.get("diagnostics", "")) for i in outcome.get("issue", []))[:2000]
    return ""


def _patient_of(resource: dict[str, Any]) -> str | None:
    return (resource.get("subject") or resource.get("patient") or {}).get("reference")


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource less what the server writes in ``meta`` (version, time); labels stay."""
    out = {key: value for key, value in resource.items() if key != "meta"}
    meta = {
        key: value
        for key, value in (resource.get("meta") or {}).items()
        if key not in ("versionId", "lastUpdated", "source")
    }
    if meta:
        out["meta"] = meta
    return out


def seed(writer: FhirWriter, resources: list[dict[str, Any]]) -> dict[str, int]:
    """Make the server hold exactly `resources` for their patients; counts of what happened."""
    wanted = {(r["resourceType"], r["id"]): r for r in resources}
    patients = [r["id"] for r in resources if r["resourceType"] == "Patient"]
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for found in writer.search("Patient", {"_id": ",".join(patients), "_count": "1000"}):
        stored[("Patient", found["id"])] = found
    # One search per type for a batch of patients (a comma is FHIR's "or"): with the 50
    # load-test patients, one per patient and type made every `make run` wait.
    batches = [patients[i : i + SEARCH_BATCH] for i in range(0, len(patients), SEARCH_BATCH)]
    for resource_type in sorted({rtype for rtype, _ in wanted} - {"Patient"}):
        for batch in batches:
            refs = {f"Patient/{patient}" for patient in batch}
            params = {"patient": ",".join(sorted(refs)), "_count": "1000"}
            for found in writer.search(resource_type, params):
                if _patient_of(found) in refs:
                    stored[(resource_type, found["id"])] = found
    # Compare as the server will hold them: parsed from the JSON we send.
    changed = [
        resource
        for key, resource in wanted.items()
        if key not in stored
        or _without_meta(json.loads(demo_data.dumps(resource))) != _without_meta(stored[key])
    ]
    stale = [key for key in stored if key not in wanted]
    writer.put_all(changed)
    writer.delete_all(stale)
    return {"unchanged": len(wanted) - len(changed), "written": len(changed), "deleted": len(stale)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--ca-bundle", type=Path, required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for the server")
    parser.add_argument("--pid", type=int, help="give up early if this process exits")
    args = parser.parse_args()
    writer = FhirWriter(
        args.base_url, ca_bundle=args.ca_bundle, token=args.token_file.read_text().strip()
    )
    try:
        waited = writer.wait_until_up(args.wait, pid=args.pid)
        started = time.monotonic()
        # Today's date in the clinic's zone adds alice's recent discharge (her check-ins).
        today = dt.datetime.now(ZoneInfo(os.environ.get("PORTAL_TIME_ZONE") or "UTC")).date()
        counts = seed(writer, [*demo_data.resources(today=today), *load_data.resources()])
    except SeedError as error:
        sys.exit(f"ehr.seed: {error}")
    print(
        f"Demo EHR answered after {waited:.1f} s; seeded in {time.monotonic() - started:.1f} s: "
        + ", ".join(f"{count} {what}" for what, count in counts.items())
    )


if __name__ == "__main__":
    main()
