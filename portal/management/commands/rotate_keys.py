"""Re-wrap patients' data keys (and re-seal second-factor seeds) under the newest KEK;
or check what is left.

Retiring a KEK: add the new version to PORTAL_KEKS (it becomes the newest),
deploy, run ``manage.py rotate_keys`` until ``--check`` passes, then remove the
old version from PORTAL_KEKS.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.crypto import keyring, selectors, services
from portal.crypto.errors import KeyConfigurationError


class Command(BaseCommand):
    help = "Re-wrap every patient data key under the newest KEK (batched, resumable, audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing; fail when any data key is still wrapped by an older KEK.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=services.ROTATE_BATCH,
            help=f"Keys per transaction (default {services.ROTATE_BATCH}).",
        )

    def handle(self, *args: Any, check: bool, batch_size: int, **options: Any) -> None:
        try:
            keks = keyring.keks()
            keyring.key_store()
        except KeyConfigurationError as exc:
            raise CommandError(str(exc)) from None
        failed: list[Any] = []
        sites_failed: list[str] = []
        if not check:
            report = services.patient_keys_rotate(batch_size=max(1, batch_size))
            failed = report.failed
            self.stdout.write(
                f"Re-wrapped {report.rewrapped} data keys under KEK version {keks.newest} "
                f"in {report.batches} batches."
            )
            sites = services.site_secrets_rotate()
            sites_failed = sites.failed
            self.stdout.write(
                f"Re-sealed {sites.resealed} second-factor secrets under KEK version {keks.newest}."
            )
        by_version = selectors.live_keys_by_version()
        old = {v: n for v, n in by_version.items() if v != keks.newest}
        if failed:
            raise CommandError(
                f"{len(failed)} data keys could not be unwrapped (audited as decrypt failures), "
                f"e.g. patient {failed[0]}."
            )
        if sites_failed:
            raise CommandError(
                f"{len(sites_failed)} second-factor secrets could not be opened (audited as "
                f"decrypt failures), e.g. {sites_failed[0]}."
            )
        old_secrets = {
            v: n for v, n in selectors.site_secrets_by_version().items() if v != keks.newest
        }
        for what, counts in (
            ("data keys are still wrapped", old),
            ("second-factor secrets are still sealed", old_secrets),
        ):
            if counts:
                listing = ", ".join(
                    f"version {v}: {n}" + ("" if v in keks.by_version else " (not in PORTAL_KEKS)")
                    for v, n in sorted(counts.items())
                )
                raise CommandError(
                    f"{sum(counts.values())} {what} by older KEKs ({listing}); "
                    "run manage.py rotate_keys.",
                    returncode=1,
                )
        retired = sorted(v for v in keks.by_version if v != keks.newest)
        self.stdout.write(
            f"All {by_version.get(keks.newest, 0)} live data keys are wrapped by KEK version "
            f"{keks.newest}, and all second-factor secrets are sealed by it."
            + (f" Versions {retired} can be removed from PORTAL_KEKS." if retired else "")
        )
