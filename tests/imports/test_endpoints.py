from __future__ import annotations

import httpx

from chatbotx.imports import service
from chatbotx.kit import db
from chatbotx.kit.pagination import PageParams
from tests.imports.helpers import (
    add_contact,
    by_email,
    contacts,
    count_tags,
    field_values,
    run,
    tag_names,
    upload,
    wait_done,
)


async def test_import_creates_updates_and_reports_failures(api: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    existing = await add_contact(tenant.workspace_id, email="old@example.com", first_name="Old", city="Lyon")
    csv = (
        "email,first name,last name,phone,city,notes\n"
        "ann@example.com,Ann,Lee,+1 415 555 0101,Paris,\n"
        "old@example.com,Olga,,,,\n"
        "\n"
        "not-an-email,Bad,Mail,,,\n"
        "bob@example.com,Bob,,12,,\n"
        "ann@EXAMPLE.com,,,,Berlin,\n"
        ",,,,,only an unmapped column\n"
        ",,,,,\n"
    )
    job = await run(api, csv)
    assert job["status"] == "finished", job
    assert job["totalRows"] == job["processedRows"] == 6
    # ann: created; old: updated; ann again (same address, domain case differs): updated
    assert (job["createdCount"], job["updatedCount"], job["failedCount"]) == (1, 2, 3)
    failures = {(f["row"], f["column"]) for f in job["failures"]}
    assert failures == {(5, "email"), (6, "phone"), (8, None)}
    assert all(f["reason"] for f in job["failures"])
    assert job["finishedAt"] is not None and job["error"] is None

    people = await by_email(tenant.workspace_id)
    assert set(people) == {"ann@example.com", "old@example.com"}
    ann = people["ann@example.com"]
    assert (ann.first_name, ann.last_name, ann.full_name) == ("Ann", "Lee", "Ann Lee")
    assert ann.phone_number == "+14155550101"
    assert ann.city == "Berlin"  # the second row updated it
    old = people["old@example.com"]
    assert old.id == existing
    assert (old.first_name, old.full_name, old.city) == ("Olga", "Olga", "Lyon")  # empty cells change nothing


async def test_headers_are_recognised(api: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    csv = (
        "First_Name;Last Name;E-mail;Mobile;Country;Gender;Language;Time Zone;Notes\n"
        "Jo;Ng;jo@example.com;+33612345678;FR;F;fr_FR;Europe/Paris;ignored\n"
    )
    job = await run(api, csv)
    assert job["createdCount"] == 1, job
    jo = (await by_email(tenant.workspace_id))["jo@example.com"]
    assert (jo.first_name, jo.last_name, jo.phone_number) == ("Jo", "Ng", "+33612345678")
    assert (jo.country, jo.gender, jo.locale, jo.timezone) == ("FR", "female", "fr_FR", "Europe/Paris")


async def test_full_name_is_split(api: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    job = await run(api, "Name,Email\nMary  Jane Watson,mj@example.com\n")
    assert job["createdCount"] == 1, job
    mj = (await by_email(tenant.workspace_id))["mj@example.com"]
    assert (mj.first_name, mj.last_name, mj.full_name) == ("Mary", "Jane Watson", "Mary Jane Watson")


async def test_explicit_mapping(api: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    csv = "Correo,Nombre,Telefono,email\nana@example.com,Ana,+34612345678,decoy@example.com\n"
    mapping = {"Correo": "email", "nombre": "firstName", "Telefono": "phoneNumber", "email": None}
    job = await run(api, csv, mapping=mapping)
    assert job["createdCount"] == 1, job
    assert job["mapping"] == mapping
    (ana,) = await contacts(tenant.workspace_id)
    assert (ana.email, ana.first_name, ana.phone_number) == ("ana@example.com", "Ana", "+34612345678")


async def test_bad_mappings_are_refused_up_front(api: httpx.AsyncClient) -> None:
    file_id = await upload(api, "a,b\n1,2\n")
    cases = [
        {"mapping": {"nope": "email"}},
        {"mapping": {"a": "shoeSize"}},
        {"mapping": {"a": "customField:missing"}},
        {"mapping": {"a": "email", "b": "email"}},
        {},  # no header is recognised
    ]
    for extra in cases:
        response = await api.post("/api/v1/contacts/import", json={"fileId": file_id, **extra})
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["data"]["errors"][0]["field"] == "mapping"
    # nothing was started, so the file can still be imported
    ok = await api.post("/api/v1/contacts/import", json={"fileId": file_id, "mapping": {"a": "ref"}})
    assert ok.status_code == 201


async def test_tags_and_custom_fields(api: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    assert (await api.post("/api/v1/tags", json={"name": "vip"})).status_code == 201
    for name, kind in (("plan", "shortText"), ("seats", "number"), ("trial", "boolean"), ("renewal", "date")):
        assert (await api.post("/api/v1/custom-fields", json={"name": name, "type": kind})).status_code == 201
    fields = {f["name"]: int(f["id"]) for f in (await api.get("/api/v1/custom-fields")).json()}
    csv = (
        "email,tags,customField:plan,Seats,trial,renewal\n"
        'a@example.com,"vip, new; beta",pro,10,yes,2026-01-31\n'
        "b@example.com,new,,,,\n"
    )
    job = await run(api, csv)
    assert (job["createdCount"], job["failedCount"]) == (2, 0), job
    people = await by_email(tenant.workspace_id)
    assert await tag_names(people["a@example.com"].id) == ["beta", "new", "vip"]
    assert await tag_names(people["b@example.com"].id) == ["new"]
    assert await count_tags(tenant.workspace_id) == 3  # "new" and "beta" created once, "vip" reused
    assert await field_values(people["a@example.com"].id) == {
        fields["plan"]: "pro",
        fields["seats"]: "10",
        fields["trial"]: "true",
        fields["renewal"]: "2026-01-31",
    }
    assert await field_values(people["b@example.com"].id) == {}

    # A second file updates values and adds tags; tags a contact has are kept (vip again: still once).
    job = await run(api, 'email,Seats,tags\na@example.com,12,"gold, vip"\n')
    assert job["updatedCount"] == 1, job
    assert (await field_values(people["a@example.com"].id))[fields["seats"]] == "12"
    assert await tag_names(people["a@example.com"].id) == ["beta", "gold", "new", "vip"]


async def test_a_bad_value_writes_nothing_of_its_row(api: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    assert (
        await api.post("/api/v1/custom-fields", json={"name": "seats", "type": "number"})
    ).status_code == 201
    csv = "email,tags,seats\nok@example.com,keep,3\nbad@example.com,doomed,three\n"
    job = await run(api, csv)
    assert (job["createdCount"], job["failedCount"]) == (1, 1), job
    assert job["failures"] == [{"row": 3, "column": "seats", "reason": job["failures"][0]["reason"]}]
    assert "number" in job["failures"][0]["reason"]
    assert set(await by_email(tenant.workspace_id)) == {"ok@example.com"}
    tags = [t["name"] for t in (await api.get("/api/v1/tags")).json()]
    assert tags == ["keep"]  # the failed row's tag was never created


async def test_same_file_twice_is_one_job(api: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    file_id = await upload(api, "email\nx@example.com\ny@example.com\n")
    first = await api.post("/api/v1/contacts/import", json={"fileId": file_id})
    assert first.status_code == 201
    done = await wait_done(api, first.json()["id"])
    assert done["createdCount"] == 2
    again = await api.post("/api/v1/contacts/import", json={"fileId": file_id, "updateExisting": False})
    assert again.status_code == 200
    assert again.json()["id"] == done["id"]
    assert again.json()["createdCount"] == 2 and again.json()["updatedCount"] == 0
    assert len(await contacts(tenant.workspace_id)) == 2


async def test_list_imports_service(tenant) -> None:  # type: ignore[no-untyped-def]
    file_ids = [await upload(tenant.client, f"email\nl{i}@example.com\n") for i in range(3)]
    started = [
        (await tenant.client.post("/api/v1/contacts/import", json={"fileId": f})).json()["id"]
        for f in file_ids
    ]
    for job_id in started:
        await wait_done(tenant.client, job_id)
    async with db.get_database().sessionmaker() as session:
        jobs, page_count = await service.list_imports(session, int(tenant.workspace_id), PageParams(1, 2))
    assert [str(j.id) for j in jobs] == started[::-1][:2] and page_count == 2


async def test_list_imports_endpoint(api: httpx.AsyncClient) -> None:
    file_id = await upload(api, "email\nlisted@example.com\n")
    job = (await api.post("/api/v1/contacts/import", json={"fileId": file_id})).json()
    await wait_done(api, job["id"])
    listed = await api.get("/api/v1/contacts/imports", params={"perPage": 10})
    assert listed.status_code == 200, listed.text
    assert [j["id"] for j in listed.json()["data"]] == [job["id"]] and listed.json()["pageCount"] == 1


async def test_update_existing_false_skips_known_contacts(api: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    await add_contact(tenant.workspace_id, phone_number="+14155550123", first_name="Keep")
    csv = "phone,first name\n+1 (415) 555-0123,Changed\n+14155550124,New\n"
    job = await run(api, csv, updateExisting=False)
    assert (job["createdCount"], job["updatedCount"], job["skippedCount"]) == (1, 0, 1), job
    names = sorted(c.first_name or "" for c in await contacts(tenant.workspace_id))
    assert names == ["Keep", "New"]


async def test_encodings_and_delimiters(api: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    latin = "email;first name\r\nzoe@example.com;Zoë\r\n".encode("latin-1")
    bom_tab = "\ufeffemail\tfirst name\nrene@example.com\tRené\n".encode()
    quoted = 'email,first name,city\nq@example.com,"Smith, Jr.","New\nYork"\n'
    for content in (latin, bom_tab, quoted):
        job = await run(api, content)
        assert (job["status"], job["createdCount"]) == ("finished", 1), job
    people = await by_email(tenant.workspace_id)
    assert people["zoe@example.com"].first_name == "Zoë"
    assert people["rene@example.com"].first_name == "René"
    assert (people["q@example.com"].first_name, people["q@example.com"].city) == ("Smith, Jr.", "New\nYork")


async def test_not_a_csv(api: httpx.AsyncClient) -> None:
    for content in (b"", b"\n\n  \n"):
        file_id = await upload(api, content)
        response = await api.post("/api/v1/contacts/import", json={"fileId": file_id})
        assert response.status_code == 422, response.text
        assert response.json()["data"]["errors"][0]["field"] == "fileId"


async def test_ids_and_workspaces(api: httpx.AsyncClient, other_tenant) -> None:  # type: ignore[no-untyped-def]
    file_id = await upload(api, "email\na@example.com\n")
    other = other_tenant.client
    response = await other.post("/api/v1/contacts/import", json={"fileId": file_id})
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    started = await api.post("/api/v1/contacts/import", json={"fileId": file_id})
    job = await wait_done(api, started.json()["id"])
    assert (await other.get(f"/api/v1/contacts/imports/{job['id']}")).status_code == 404
    assert (await api.get("/api/v1/contacts/imports/not-an-id")).status_code == 404
    assert (await api.post("/api/v1/contacts/import", json={"fileId": "999"})).status_code == 404
    assert (await api.post("/api/v1/contacts/import", json={"fileId": file_id, "x": 1})).status_code == 422
