"""Invite one patient from the command line (batch use): prints the code once.

    manage.py invite_patient --mrn VALUE [--system URI] [--email ADDR]

The patient is found on the EHR by MRN (exactly one match, or nothing is
done), linked, and given a code as the desk's page does; the code is printed,
never stored. ``--email`` sends it to that address instead of the EHR's
(``--email ""`` sends none). Audited with no actor (a command).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.context import NO_CONTEXT
from invitations import ehr, services
from portal.fhir import FhirError
from records.sync import SyncUnavailable, fhir_client


class Command(BaseCommand):
    help = "Invite a patient found on the EHR by MRN; prints the activation code once."

    def add_arguments(self, parser):
        parser.add_argument("--mrn", required=True, help="The medical record number.")
        parser.add_argument(
            "--system",
            default=settings.PORTAL_MRN_SYSTEM,
            help="The MRN's identifier system (URI); default PORTAL_MRN_SYSTEM, else any.",
        )
        parser.add_argument(
            "--email", default=None, help="Send the code here (default: the EHR's address)."
        )

    def handle(self, *args, mrn: str, system: str, email: str | None, **options):
        try:
            with fhir_client() as client:
                found = ehr.search(client, mrn=mrn, system=system)
        except SyncUnavailable as error:
            raise CommandError(f"No EHR to search: {error}.") from None
        except FhirError as error:
            raise CommandError(f"The EHR did not answer ({error.reason}).") from None
        if len(found) != 1:
            raise CommandError(
                f"{len(found)} patients on the EHR have that MRN"
                f"{' in that system' if system else ''}: nothing done."
            )
        try:
            issued = services.invite(actor=None, context=NO_CONTEXT, found=found[0], email=email)
        except services.InvitationError as error:
            raise CommandError(str(error)) from None
        invitation = issued.invitation
        self.stdout.write(f"Invitation {invitation.pk} for patient {invitation.patient_id}")
        self.stdout.write(f"Activation code: {issued.shown_code}")
        self.stdout.write(
            f"Valid until {invitation.expires_at:%Y-%m-%d %H:%M} UTC"
            + ("; also e-mailed." if invitation.emailed else "; not e-mailed.")
        )
