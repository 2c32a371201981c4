"""A patient reads their record in a real browser: lab results, a trend chart, the PDF."""

from playwright.sync_api import expect

from tests.records import builders


def test_it_takes_a_patient_from_sign_in_to_a_trend_chart_and_the_pdf(open_portal, alice):
    builders.seed(alice.patient)
    portal = open_portal()
    page = portal.page

    portal.sign_in_fully(alice)
    page.get_by_role("link", name="Test results").first.click()
    portal.wait_for("/patient/records/labs/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Test results")
    newest = page.locator("table.results tbody tr").first
    expect(newest).to_contain_text("7.10")
    expect(newest).to_contain_text("High")

    newest.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("over time")
    chart = page.get_by_role("img", name="Hemoglobin A1c/Hemoglobin.total in Blood over time")
    expect(chart).to_be_visible()
    expect(chart.locator("circle")).to_have_count(3)
    expect(page.locator("table tbody tr")).to_have_count(3)

    portal.goto("/patient/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download your record (PDF)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("health-record-")
    with open(download.path(), "rb") as document:
        assert document.read(5) == b"%PDF-"
