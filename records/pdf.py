"""The patient's record as a readable PDF (fpdf2), built in memory, never written to disk.

Fonts: fpdf2 ships no Unicode font and the production image has none, so the
document uses the core Helvetica in Windows-1252. ``printable()`` maps every
text to that encoding first: accents decompose to their base letter when the
code page lacks them, and anything else (CJK, emoji) becomes "?", so no
value can crash the download.
"""

import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.formats import date_format
from fpdf import FPDF
from fpdf.fonts import FontFace

from records.presenters import Item, LabResult, Visit, quantity, text, when

ENCODING = "windows-1252"
FONT = "Helvetica"
UNREADABLE = "[unreadable]"


def printable(value: Any) -> str:
    """Text the core font can draw: Windows-1252 as is, other characters simplified or '?'."""
    out = []
    for char in str(value):
        try:
            char.encode(ENCODING)
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        base = unicodedata.normalize("NFKD", char).encode(ENCODING, "ignore").decode(ENCODING)
        out.append(base or "?")
    return "".join(out)


class RecordPdf(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.core_fonts_encoding = ENCODING
        self.set_title("Health record")
        self.set_creator("Carebridge")
        self.set_auto_page_break(auto=True, margin=15)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.cell(0, 6, f"Carebridge health record - page {self.page_no()} of {{nb}}", align="C")

    def heading(self, title: str) -> None:
        if self.get_y() > self.h - 40:
            self.add_page()
        self.ln(4)
        self.set_font(FONT, style="B", size=13)
        self.cell(0, 8, printable(title), new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, size=9)

    def para(self, value: str, *, bold: bool = False) -> None:
        self.set_font(FONT, style="B" if bold else "", size=9)
        self.multi_cell(0, 5, printable(value), new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, size=9)

    def rows(self, headings: list[str], rows: list[list[str]], widths: tuple[int, ...]) -> None:
        if not rows:
            self.para("None recorded.")
            return
        self.set_font(FONT, size=8)
        with self.table(
            col_widths=widths,
            text_align="LEFT",
            line_height=4.5,
            headings_style=FontFace(emphasis="BOLD"),
        ) as table:
            table.row([printable(h) for h in headings])
            for values in rows:
                table.row([printable(v) for v in values])
        self.set_font(FONT, size=9)


def record_pdf(record: dict[str, Any], *, compress: bool = True) -> bytes:
    """The document for ``selectors.full_record()``'s dict."""
    pdf = RecordPdf()
    pdf.set_compression(compress)
    pdf.add_page()
    pdf.set_font(FONT, style="B", size=18)
    pdf.cell(0, 10, "Health record", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9)
    demographics = record.get("demographics")
    if demographics is not None:
        pdf.para(f"Name: {demographics.given_name} {demographics.family_name}")
        pdf.para(f"Date of birth: {demographics.birth_date or 'not recorded'}")
    pdf.para(f"Created {date_format(timezone.localtime(), 'j M Y, H:i')} by Carebridge.")
    pdf.para(
        "This copy shows the records your clinic's system shared with the portal. "
        "Ask your care team about anything that looks wrong."
    )

    pdf.heading("Summary")
    counts = record.get("counts") or {}
    pdf.para(
        f"{len(record['results'])} test results, {len(record['problems'])} problems, "
        f"{len(record['medications'])} medicines, {len(record['allergies'])} allergies, "
        f"{len(record['immunizations'])} immunizations, {len(record['visits'])} visits."
        if counts
        else "No records from your clinic yet."
    )

    pdf.heading("Test results")
    pdf.rows(
        ["Date", "Test", "Result", "Unit", "Normal range", "Flag"],
        [_lab_row(r) for r in record["results"]],
        (22, 50, 28, 16, 34, 20),
    )
    if record.get("reports"):
        pdf.heading("Reports")
        pdf.rows(
            ["Date", "Report", "Status", "Conclusion"],
            [
                _row(i, lambda i, d: [i.when, d.get("code"), i.status, d.get("conclusion")])
                for i in record["reports"]
            ],
            (22, 50, 20, 78),
        )

    pdf.heading("Problems")
    pdf.rows(
        ["Problem", "Status", "Since", "Resolved"],
        [
            _row(
                i,
                lambda i, d: [
                    d.get("code"),
                    d.get("clinical_status"),
                    i.when,
                    when(str(d.get("abatement") or "")),
                ],
            )
            for i in record["problems"]
        ],
        (70, 30, 35, 35),
    )

    pdf.heading("Medicines")
    pdf.rows(
        ["Medicine", "Status", "How to take", "Date"],
        [
            _row(
                i,
                lambda i, d: [
                    d.get("medication"),
                    i.status,
                    "; ".join(map(text, d.get("dosage") or [])),
                    i.when,
                ],
            )
            for i in record["medications"]
        ],
        (55, 20, 65, 30),
    )

    pdf.heading("Allergies")
    pdf.rows(
        ["Substance", "Status", "Criticality", "Reactions"],
        [
            _row(
                i,
                lambda i, d: [
                    d.get("code"),
                    d.get("clinical_status"),
                    d.get("criticality"),
                    _reactions(d),
                ],
            )
            for i in record["allergies"]
        ],
        (50, 25, 25, 70),
    )

    pdf.heading("Immunizations")
    pdf.rows(
        ["Date", "Vaccine", "Status", "Dose"],
        [
            _row(
                i, lambda i, d: [i.when, d.get("code"), i.status, quantity(d.get("dose_quantity"))]
            )
            for i in record["immunizations"]
        ],
        (30, 80, 30, 30),
    )

    pdf.heading("Visits")
    if not record["visits"]:
        pdf.para("None recorded.")
    for visit in record["visits"]:
        _visit(pdf, visit)
    for note in record.get("other_notes") or []:
        _note(pdf, note)
    return bytes(pdf.output())


def _row(item: Item, values: Callable[[Item, dict[str, Any]], list[Any]]) -> list[str]:
    if item.unreadable is not None:
        return [UNREADABLE] + [""] * (len(values(item, {})) - 1)
    return [text(v) for v in values(item, item.d)]


def _lab_row(r: LabResult) -> list[str]:
    if r.unreadable is not None:
        return ["", UNREADABLE, "", "", "", ""]
    return [r.when, r.name, r.value, r.unit, r.range_text, r.flag_label]


def _reactions(d: dict[str, Any]) -> str:
    out = []
    for reaction in d.get("reactions") or []:
        names = ", ".join(map(text, reaction.get("manifestation") or []))
        severity = text(reaction.get("severity"))
        out.append(f"{names} ({severity})" if severity else names)
    return "; ".join(o for o in out if o)


def _visit(pdf: RecordPdf, visit: Visit) -> None:
    if visit.unreadable is not None:
        pdf.para(f"Visit: {UNREADABLE}", bold=True)
        return
    d = visit.item.d
    title = ", ".join(map(text, d.get("type") or [])) or text(d.get("class")) or "Visit"
    pdf.ln(2)
    pdf.para(f"{visit.item.when} - {title}", bold=True)
    if d.get("reason"):
        pdf.para("Reason: " + ", ".join(map(text, d["reason"])))
    if d.get("service_provider"):
        pdf.para(f"Where: {d['service_provider']}")
    if visit.diagnoses:
        names = [UNREADABLE if c.unreadable else text(c.d.get("code")) for c in visit.diagnoses]
        pdf.para("Diagnoses: " + ", ".join(names))
    for note in visit.notes:
        _note(pdf, note)


def _note(pdf: RecordPdf, note: Item) -> None:
    if note.unreadable is not None:
        pdf.para(f"Note: {UNREADABLE}")
        return
    d = note.d
    heading = " - ".join(
        p for p in (text(d.get("type")), text(d.get("description")), note.when) if p
    )
    authors = ", ".join(map(text, d.get("authors") or []))
    pdf.para(f"Note: {heading}" + (f" ({authors})" if authors else ""))
    if d.get("text"):
        pdf.para(text(d["text"]))


def filename(kind: str, now: datetime | None = None) -> str:
    """health-record-<date>.<kind>: no name, no id."""
    day = timezone.localdate(now) if now else timezone.localdate()
    return f"health-record-{day.isoformat()}.{kind}"
