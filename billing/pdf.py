"""A statement as a PDF (fpdf2, core font), built in memory, never written to disk."""

from fpdf import FPDF

from billing import money
from billing.selectors import StatementPage
from records.pdf import drawable


def statement_pdf(page: StatementPage) -> bytes:
    s = page.statement
    doc = FPDF()
    doc.add_page()
    doc.set_font("Helvetica", "B", 16)
    doc.cell(0, 10, drawable(f"Statement {s.number}"), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", size=10)
    doc.cell(0, 6, f"Due on {s.due_on.isoformat()}", new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    with doc.table(col_widths=(25, 75, 22, 22, 22, 24), text_align="LEFT") as table:
        table.row(["Date", "Service", "Charge", "Insurance", "Adjusted", "You owe"])
        for item in page.items:
            table.row(
                [
                    item.service_date.isoformat(),
                    drawable(item.description),
                    money.show(item.charge, s.currency),
                    money.show(item.insurance_paid, s.currency),
                    money.show(item.adjustment, s.currency),
                    money.show(item.patient_responsibility, s.currency),
                ]
            )
    doc.ln(4)
    for entry in page.entries:
        amount = money.show(entry.amount, s.currency)
        line = f"{entry.created_at:%Y-%m-%d} {entry.kind_label}: {amount}"
        doc.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", "B", 12)
    doc.cell(0, 8, f"Balance: {money.show(s.balance, s.currency)}", new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())
