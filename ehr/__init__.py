"""The demo EHR: a real FHIR R4 server on loopback for `make run` and the tests.

When `FHIR_BASE_URL` is unset, `make run` starts sekmet-fhir (a small FHIR R4
server with SMART Backend Services auth, PyPI `sekmet-fhir`) as the clinic's
EHR. Its dependencies clash with ours (python-dateutil), so it lives in its
own virtualenv, `var/ehr/venv`, installed from the exact pins in
`ehr/requirements.txt`.

    scripts/ehr.sh install   venv, reinstalled when ehr/requirements.txt changes
    scripts/ehr.sh start     settings, server on https://127.0.0.1:$EHR_PORT/fhir
                             (default 8444, TLS with var/tls), demo data seeded,
                             var/ehr/portal.env written for the portal
    scripts/ehr.sh stop | status

Modules (plain Python, no Django; they run in either virtualenv):

    config.py     the sekmet settings (the portal registered as a SMART client
                  with its public key, the scopes it may ask for) and portal.env
    demo_data.py  the demo patients' records, deterministic from a fixed date
    chart.py      the small builder demo_data.py writes them with
    seed.py       a stdlib-only FHIR writer: waits for the server, loads
                  resources as transaction Bundles, seeds only what changed

The server accepts two credentials: SMART tokens for the portal (read scopes,
and create/update of Task and MedicationRequest for the refill write-back), and
a random static bearer token, new on every start and kept 0600 in
var/ehr/loader_token, with which seed.py writes. Both only ever on 127.0.0.1.

Where sekmet differs from a production EHR (tests/ehr shows each):

- Paging is by offset over write order, not a snapshot: a resource written
  while a search is being paged moves to the end, so one resource is skipped
  and the written one comes twice. A sync must take its next `_lastUpdated`
  from the first page's Bundle.meta.lastUpdated, not from what it saw.
- Numbers are parsed as floats: 7.10 is stored and served as 7.1.
- An unknown search parameter is ignored, with an OperationOutcome entry
  (search.mode "outcome") in the Bundle, unless `Prefer: handling=strict`.
- It serves an unauthenticated web console at /ui that lists and edits
  everything it holds: harmless for fictional data on loopback, and the
  reason this server must never hold real records or listen elsewhere.
"""
