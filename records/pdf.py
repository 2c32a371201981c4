"""The patient's record as a readable PDF (fpdf2), built in memory, never written to disk.

Fonts: names and notes come in every script, so the document embeds DejaVu
Sans (Debian's fonts-dejavu-core, which scripts/system-deps.sh and the Docker
image install; ``PORTAL_PDF_FONT_DIR`` points elsewhere) and draws every
character that font has: Latin, Greek, Cyrillic, Hebrew, Arabic... Where the
font is missing, it falls back to the core Helvetica in Windows-1252. Either
way each text is mapped to what the font can draw first (``RecordPdf.drawable``):
a character it lacks decomposes to its base letter when that exists, else
becomes "?" (CJK with DejaVu), so no value can crash the download or vanish.
"""

import unicodedata
from collections.abc import Callable, Container
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from fpdf import FPDF
from fpdf.fonts import FontFace

from records.presenters import Item, LabResult, Visit, quantity, text, when

ENCODING = "windows-1252"
CORE_FONT = "Helvetica"
UNICODE_FONT = "DejaVu"
UNICODE_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
UNREADABLE = "[unreadable]"


class _CodePage:
    """The characters of Windows-1252 (what the core fonts draw), as a container."""

    def __contains__(self, codepoint: object) -> bool:
        try:
            chr(codepoint).encode(ENCODING)  # type: ignore[arg-type]
        except (UnicodeEncodeError, TypeError, ValueError):
            return False
        return True


def drawable(value: Any, glyphs: Container[int] = _CodePage()) -> str:
    """``value`` as text whose every character is in ``glyphs`` (code points).

    A missing character becomes its decomposed base letters that are there
    (ř → r), else "?". Line breaks and tabs pass.
    """
    out = []
    for char in str(value):
        if char in "\n\t" or ord(char) in glyphs:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) in glyphs)
        out.append(base or "?")
    return "".join(out)


def font_files(folder: str | Path | None) -> dict[str, Path] | None:
    """The Unicode font's files by style, if all are in ``folder``."""
    if not folder:
        return None
    files = {style: Path(folder) / name for style, name in UNICODE_FONT_FILES.items()}
    return files if all(path.is_file() for path in files.values()) else None


class RecordPdf(FPDF):
    def __init__(self, font_dir: str | Path | None = None) -> None:
        super().__init__(format="A4")
        files = font_files(settings.PORTAL_PDF_FONT_DIR if font_dir is None else font_dir)
        if files:
            for style, path in files.items():
                self.add_font(UNICODE_FONT, style, str(path))
            self.font = UNICODE_FONT
            self.set_font(UNICODE_FONT)
            self.glyphs: Container[int] = frozenset(self.current_font.cmap)
        else:
            self.core_fonts_encoding = ENCODING
            self.font = CORE_FONT
            self.glyphs = _CodePage()
        self.set_title("Health record")
        self.set_creator("Carebridge")
        self.set_auto_page_break(auto=True, margin=15)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.font, size=8)
        self.cell(0, 6, f"Carebridge health record - page {self.page_no()} of {{nb}}", align="C")

    def drawable(self, value: Any) -> str:
        return drawable(value, self.glyphs)

    def heading(self, title: str) -> None:
        if self.get_y() > self.h - 40:
            self.add_page()
        self.ln(4)
        self.set_font(self.font, style="B", size=13)
        self.cell(0, 8, self.drawable(title), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.font, size=9)

    def para(self, value: str, *, bold: bool = False) -> None:
        self.set_font(self.font, style="B" if bold else "", size=9)
        self.multi_cell(0, 5, self.drawable(value), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.font, size=9)

    def rows(self, headings: list[str], rows: list[list[str]], widths: tuple[int, ...]) -> None:
        if not rows:
            self.para("None recorded.")
            return
        self.set_font(self.font, size=8)
        with self.table(
            col_widths=widths,
            text_align="LEFT",
            line_height=4.5,
            headings_style=FontFace(emphasis="BOLD"),
        ) as table:
            table.row([self.drawable(h) for h in headings])
            for values in rows:
                table.row([self.drawable(v) for v in values])
        self.set_font(self.font, size=9)


def record_pdf(
    record: dict[str, Any], *, compress: bool = True, font_dir: str | Path | None = None
) -> bytes:
    """The document for ``selectors.full_record()``'s dict."""
    pdf = RecordPdf(font_dir)
    pdf.set_compression(compress)
    pdf.add_page()
    pdf.set_font(pdf.font, style="B", size=18)
    pdf.cell(0, 10, "Health record", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.font, size=9)
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
    return [text(v) for v in values(item, item.display)]


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
    d = visit.item.display
    title = ", ".join(map(text, d.get("type") or [])) or text(d.get("class")) or "Visit"
    pdf.ln(2)
    pdf.para(f"{visit.item.when} - {title}", bold=True)
    if d.get("reason"):
        pdf.para("Reason: " + ", ".join(map(text, d["reason"])))
    if d.get("service_provider"):
        pdf.para(f"Where: {d['service_provider']}")
    if visit.diagnoses:
        names = [
            UNREADABLE if c.unreadable else text(c.display.get("code")) for c in visit.diagnoses
        ]
        pdf.para("Diagnoses: " + ", ".join(names))
    for note in visit.notes:
        _note(pdf, note)


def _note(pdf: RecordPdf, note: Item) -> None:
    if note.unreadable is not None:
        pdf.para(f"Note: {UNREADABLE}")
        return
    d = note.display
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
