"""The invitation letter (PDF): the patient's name and address, the code, the steps.

Nothing clinical: it may be opened by anyone at that address. The code is on it
in the clear, so the letter is made only from a code the desk has just been
shown (invitations.selectors.letter_pdf checks it against the stored hash).
"""

from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format

from records.pdf import RecordPdf


class LetterPdf(RecordPdf):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.font, size=8)
        self.cell(0, 6, self.drawable(settings.PORTAL_CLINIC_NAME), align="C")


def letter_pdf(
    *,
    name: str,
    address: list[str],
    code: str,
    expires_at: datetime,
    today: datetime,
    for_guardian: bool = False,
) -> bytes:
    """The letter; ``for_guardian``: addressed to the parent or guardian of ``name``."""
    pdf = LetterPdf()
    pdf.set_title("Your invitation to the patient portal")
    pdf.add_page()
    pdf.set_font(pdf.font, style="B", size=14)
    pdf.cell(0, 8, pdf.drawable(settings.PORTAL_CLINIC_NAME), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(pdf.font, size=11)
    addressee = f"The parent or guardian of {name}" if for_guardian else name
    for line in [addressee, *address]:
        pdf.cell(0, 6, pdf.drawable(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.cell(0, 6, date_format(timezone.localtime(today), "j F Y"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    local_expiry = timezone.localtime(expires_at)
    if for_guardian:
        paragraphs = [
            "Dear parent or guardian,",
            f"You are invited to act for {name} in the clinic's patient portal, where you can "
            "see their test results, visits, medicines and more.",
            f"Go to {settings.PORTAL_BASE_URL}/activate/ and enter the code below with the "
            "child's last name and date of birth. You will then choose a username and password "
            "(or add the access to your own portal account) and set up an authenticator app.",
        ]
    else:
        paragraphs = [
            f"Dear {name},",
            "You are invited to the clinic's patient portal, where you can see your test "
            "results, visits, medicines and more, and write to your care team.",
            f"To set up your account, go to {settings.PORTAL_BASE_URL}/activate/ and enter the "
            "code below with your last name and date of birth. You will then choose a username "
            "and password and set up an authenticator app on your phone.",
        ]
    for text in paragraphs:
        pdf.multi_cell(0, 6, pdf.drawable(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.ln(2)
    pdf.set_font(pdf.font, style="B", size=18)
    pdf.cell(0, 12, code, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.font, size=11)
    pdf.ln(2)
    closing = [
        f"The code works once, until {date_format(local_expiry, 'j F Y')}. "
        "Keep this letter private: with your name and date of birth, the code opens your "
        "records.",
        "If you did not expect this letter, or the code does not work, call the clinic.",
    ]
    for text in closing:
        pdf.multi_cell(0, 6, pdf.drawable(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    return bytes(pdf.output())
