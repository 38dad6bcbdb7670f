"""Importing a file lists every problem in one pass, each where a person finds it, with its value and plain words;
CSV sheets from any spreadsheet (`,` or `;`, with or without a byte-order mark, UTF-8 or Windows-1252) import."""

from fastapi.testclient import TestClient

from tests.factories import city

CSV_HEADER = "id,kind,name,country,bloc,org_type,city,description,interests,offers\n"


def _post_csv(client: TestClient, keys, text: str | bytes):
    body = text.encode() if isinstance(text, str) else text
    return client.post("/bundles", content=body, headers={**keys.auth("manager"), "content-type": "text/csv"})


def _total(client: TestClient, keys) -> int:
    return client.get("/profiles", headers=keys.auth("manager")).json()["total"]


def test_a_bundle_lists_field_rule_duplicate_and_reference_problems_in_one_pass(client, keys):
    bundle = {
        "format": "twinning.bundle/1",
        "profiles": [
            city("eindhoven"),
            city("seoul", country="ZZ", bloc="KR"),
            city("eindhoven", name="Eindhoven again"),
            city("busan", org_type="company", interests=[]),
            {**city("lab", kind="organisation", org_type="company", city="seoul"), "interests": []},
        ],
        "partnerships": [{"a": "eindhoven", "b": "nowhere"}],
    }
    r = client.post("/bundles", json=bundle, headers=keys.auth("manager"))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    assert [(e["pointer"], e["where"], e.get("value")) for e in errors] == [
        ("/profiles/1/country", "profile 2 (“seoul”), country", "ZZ"),
        ("/profiles/2/id", "profile 3 (“eindhoven”), id", "eindhoven"),
        ("/profiles/3/org_type", "profile 4 (“busan”), org_type", "company"),
        ("/profiles/3/interests", "profile 4 (“busan”), interests", None),
        ("/partnerships/0/b", "partnership 1, b", "nowhere"),
    ]
    messages = [e["message"] for e in errors]
    assert messages[0].startswith("“ZZ” is not a country code") and "such as NL or KR" in messages[0]
    assert messages[1] == (
        "“eindhoven” is already the id of profile 1 (“eindhoven”): every profile needs an id of its own"
    )
    assert "must be empty for a city" in messages[2] and messages[3] == "a city needs at least one interest"
    # the organisation based in seoul, whose own row has a problem, is not reported as naming a missing profile
    assert not any("/profiles/4" in e["pointer"] for e in errors)
    assert _total(client, keys) == 0


def test_a_csv_lists_every_problem_by_row_and_column_with_its_value(client, keys):
    sheet = CSV_HEADER + (
        "newtown,city,Newtown,NL,EU,,,A new town.,parks;harbours,\n"
        "oldtown,city,Oldtown,XX,EU,,,An old town.,markets,\n"
        "lab,organisation,Lab,NL,EU,bakery,ghost,A lab.,,sensors\n"
        "newtown,town,Newtown again,NL,E U,,,Again.,parks,\n"
        "long,city,Long,NL,EU,,,Long.," + "x" * 201 + ",\n"
    )
    r = _post_csv(client, keys, sheet)
    assert r.status_code == 422
    got = [(e["where"], e.get("value"), e["message"]) for e in r.json()["errors"]]
    assert [(where, value) for where, value, _ in got] == [
        ("row 3, column country", "XX"),
        ("row 4, column org_type", "bakery"),
        ("row 4, column city", "ghost"),
        ("row 5, column id", "newtown"),
        ("row 5, column kind", "town"),
        ("row 5, column bloc", "E U"),
        ("row 6, column interests, phrase 1", "x" * 79 + "…"),
    ]
    messages = dict(((where, message) for where, _, message in got))
    assert messages["row 5, column id"].startswith("“newtown” is already the id of row 2")
    assert messages["row 5, column kind"] == "“town” is not one of the allowed values: use city or organisation"
    assert "use company, university, research_centre" in messages["row 4, column org_type"]
    assert messages["row 4, column city"] == "no profile 'ghost'"
    assert "over the limit of 200 characters" in messages["row 6, column interests, phrase 1"]
    # the machine fields stay: pointers into the sheet and pydantic's or the rule's own detail
    assert {e["pointer"] for e in r.json()["errors"]} >= {"/rows/3/country", "/rows/5/id", "/rows/4/city"}
    assert _total(client, keys) == 0


def test_a_semicolon_sheet_with_a_byte_order_mark_from_a_european_spreadsheet_imports(client, keys):
    sheet = (
        "\ufeffid;kind;name;country;bloc;org_type;city;description;interests;offers\r\n"
        'sonar;city;Sónar, Barcelona;es;EU;;;"Music, art; technology.";"festivals;creative industries";\r\n'
        'lab;organisation;Lab;NL;EU;university;sonar;A lab.;;"sensors\nopen data"\r\n'
        ";;;;;;;;;\r\n"
    )
    r = _post_csv(client, keys, sheet)
    assert r.status_code == 200, r.text
    assert r.json()["profiles_created"] == 2
    sonar = client.get("/profiles/sonar", headers=keys.auth("manager")).json()
    assert sonar["name"] == "Sónar, Barcelona" and sonar["country"] == "ES"
    assert sonar["description"] == "Music, art; technology."
    assert sonar["interests"] == ["festivals", "creative industries"]
    lab = client.get("/profiles/lab", headers=keys.auth("manager")).json()
    assert lab["offers"] == ["sensors", "open data"] and lab["city"] == "sonar"


def test_a_windows_1252_sheet_imports_with_its_accents(client, keys):
    sheet = "id;kind;name;country;bloc;description;interests\r\nmalmo;city;Malmö;SE;EU;Öresund city.;harbours\r\n"
    r = _post_csv(client, keys, sheet.encode("cp1252"))
    assert r.status_code == 200, r.text
    assert client.get("/profiles/malmo", headers=keys.auth("manager")).json()["name"] == "Malmö"


def test_header_problems_do_not_hide_the_rows_problems(client, keys):
    sheet = "id,kind,name,colour,bloc,description,interests\nx,city,X,red,EU,d,parks\ny,city,Y,blue,EU,,parks\n"
    r = _post_csv(client, keys, sheet)
    assert r.status_code == 422
    got = [(e["where"], e.get("value"), e["message"]) for e in r.json()["errors"]]
    assert got[0][:2] == ("the header (row 1)", "country") and "“country” is missing" in got[0][2]
    assert got[1][:2] == ("the header (row 1)", "colour") and "is not a column of the sheet" in got[1][2]
    # the rows are checked too; the missing column is reported once, on the header
    assert got[2:] == [("row 3, column description", None, "nothing was given: this is required")]


def test_the_problem_schema_documents_the_readable_fields(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ProblemField"]
    assert {"pointer", "detail", "where", "value", "message"} <= schema["properties"].keys()
    assert schema["required"] == ["pointer", "detail"]
