"""Every client command of the seed manual, run as a subprocess against a live server, with the server's state
checked afterwards through the API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.cli.conftest import Cli

WEBCHAT_CONFIG = '{"websiteUrl": "https://shop.example.com"}'  # a webchat channel needs its website


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_contact(cli: Cli, **fields: str) -> dict[str, object]:
    email = fields.pop("email", f"{uuid.uuid4().hex[:10]}@example.com")
    args = ["contacts", "create", "--email", email, "--json"]
    for key, value in fields.items():
        args += [f"--{key}", value]
    return cli(*args).json()


# --- workspace, members, channels, teams


def test_workspaces_get(cli: Cli) -> None:
    cli.server.require("getWorkspace")
    data = cli("workspaces", "get", "--json").json()
    assert data["name"] == "CLI test"
    human = cli("workspaces", "get").out
    assert data["id"] in human and "CLI test" in human


def test_members_list_and_get(cli: Cli) -> None:
    cli.server.require("listMembers", "getMember")
    page = cli("members", "list", "--page", "1", "--perPage", "10", "--keyword", "cli-", "--json").json()
    assert page["pageCount"] == 1 and len(page["data"]) == 1
    member = page["data"][0]
    assert cli("members", "list", "--keyword", "nobody-like-this", "--json").json()["data"] == []
    assert cli("members", "list", "-q").out.split() == [member["id"]]
    got = cli("members", "get", member["id"], "--json").json()
    assert got["id"] == member["id"]
    sorted_page = cli("members", "list", "--sort", '[{"id":"createdAt","desc":true}]', "--json").json()
    assert [m["id"] for m in sorted_page["data"]] == [member["id"]]


def test_channels_list(cli: Cli) -> None:
    cli.server.require("listChannels")
    result = cli("channels", "list", "--page", "1", "--perPage", "5", "--json").json()
    items = result["data"] if isinstance(result, dict) else result
    assert items == []
    assert "--includes" in cli("channels", "list", "--help").out


def test_teams_list(cli: Cli) -> None:
    cli.server.require("listTeams", "createTeam")
    name = unique("support")
    team = cli("teams", "create", "--name", name, "--json").json()
    listed = cli("teams", "list", "--json").json()
    items = listed["data"] if isinstance(listed, dict) else listed
    assert [t["name"] for t in items] == [name]
    assert team["id"] in cli("teams", "list").out


# --- tags, custom fields, bot fields


def test_tags_crud(cli: Cli) -> None:
    created = cli("tags", "create", "--name", "vip", "--json").json()
    assert created["name"] == "vip"
    assert cli("tags", "get", "vip", "--json").json()["id"] == created["id"]
    assert cli("tags", "get", created["id"], "--json").json()["name"] == "vip"
    updated = cli("tags", "update", created["id"], "--name", "gold", "--json").json()
    assert updated["name"] == "gold"
    assert [t["name"] for t in cli.get("/api/v1/tags")] == ["gold"]
    listing = cli("tags", "list").out
    assert "gold" in listing and created["id"] in listing
    deleted = cli("tags", "delete", created["id"])
    assert deleted.out.strip() == "OK"
    assert cli("tags", "delete", created["id"], check=False).code == 1
    assert cli.get("/api/v1/tags") == []
    assert cli("tags", "list", "--json").json() == []


def test_custom_fields_crud(cli: Cli) -> None:
    cli.server.require("createCustomField", "updateCustomField", "deleteCustomField")
    created = cli("custom-fields", "create", "--name", "plan", "--type", "shortText", "--json").json()
    assert created["type"] == "shortText"
    assert cli("custom-fields", "get", "plan", "--json").json()["id"] == created["id"]
    cli("custom-fields", "update", created["id"], "--name", "tier", "--description", "Billing tier")
    fields = cli("custom-fields", "list", "--json").json()
    assert [(f["name"], f.get("description")) for f in fields] == [("tier", "Billing tier")]
    bad = cli("custom-fields", "create", "--name", "x", "--type", "colour", check=False)
    assert bad.code == 2 and "colour" in bad.err
    cli("custom-fields", "delete", created["id"])
    assert cli.get("/api/v1/custom-fields") == []


def test_bot_fields_every_command(cli: Cli) -> None:
    cli.server.require("createBotField", "setBotField", "setBotFields", "deleteBotFields")
    created = cli(
        "bot-fields",
        "create",
        "--name",
        "greeting",
        "--type",
        "shortText",
        "--value",
        "hi",
        "--description",
        "Hi",
    ).out
    assert "greeting" in created
    cli("bot-fields", "create", "--name", "limit", "--type", "number", "--value", "5", "--description", "Cap")
    assert cli("bot-fields", "get", "greeting", "--json").json()["value"] == "hi"

    cli("bot-fields", "update", "greeting", "--value", "hello")
    assert cli("bot-fields", "get", "greeting", "--json").json()["value"] == "hello"

    fields = '[{"name": "greeting", "value": "hey"}, {"name": "limit", "value": 7}]'
    assert cli("bot-fields", "update", "--fields", fields).out.strip() == "OK"
    values = {f["name"]: f["value"] for f in cli.get("/api/v1/bot-fields")}
    assert values["greeting"] == "hey" and str(values["limit"]) == "7"

    listed = cli("bot-fields", "list", "--json").json()
    assert sorted(f["name"] for f in listed) == ["greeting", "limit"]

    cli("bot-fields", "delete", "greeting")
    after = cli("bot-fields", "get", "greeting", check=False)
    if after.code == 0:  # "unset the value": the field stays, without a value
        assert json.loads(cli("bot-fields", "get", "greeting", "--json").out)["value"] is None
    else:
        assert after.code == 1 and "NOT_FOUND" in after.err


def test_bot_fields_bulk_update(cli: Cli) -> None:
    cli.server.require("bulkUpdateBotFields")
    cli("bot-fields", "create", "--name", "a", "--type", "shortText", "--value", "1", "--description", "x")
    help_text = cli("bot-fields", "bulk-update", "--help").out
    option = "--fields" if "--fields" in help_text else "--data"
    payload = '[{"idOrName": "a", "value": "2"}]' if option == "--fields" else '{"fields": []}'
    result = cli("bot-fields", "bulk-update", option, payload, check=False)
    assert result.code in (0, 1), (
        result
    )  # shape details belong to the bot-fields tests; the command must exist


# --- contacts


def test_contacts_crud(cli: Cli) -> None:
    cli.server.require("createContact", "getContact", "upsertContact", "updateContact", "deleteContact")
    created = cli(
        "contacts", "create", "--phoneNumber", "+14155550123", "--email", "ann@example.com",
        "--gender", "female", "--firstName", "Ann", "--lastName", "Lee", "--json",
    ).json()  # fmt: skip
    assert created["phoneNumber"] == "+14155550123" and created["fullName"] == "Ann Lee"
    cid = created["id"]
    for identifier in (f"id:{cid}", "email:ann@example.com", "phone:+14155550123", cid):
        assert cli("contacts", "get", identifier, "--json").json()["id"] == cid
    listed = cli("contacts", "list", "--page", "1", "--perPage", "10", "--keyword", "ann", "--json").json()
    assert [c["id"] for c in listed["data"]] == [cid] and listed["pageCount"] == 1
    assert cli("contacts", "list", "-q").out.split() == [cid]
    assert cid in cli("contacts", "list").out

    cli("contacts", "update", f"id:{cid}", "--firstName", "Anna")
    assert cli.get(f"/api/v1/contacts/{cid}")["firstName"] == "Anna"

    upserted = cli("contacts", "upsert", "email:bob@example.com", "--firstName", "Bob", "--json").json()
    assert upserted["email"] == "bob@example.com"
    again = cli("contacts", "upsert", "email:bob@example.com", "--lastName", "Smith", "--json").json()
    assert again["id"] == upserted["id"] and again["lastName"] == "Smith"

    cli("contacts", "delete", f"id:{cid}")
    gone = cli("contacts", "get", f"id:{cid}", check=False)
    assert gone.code == 1 and "NOT_FOUND" in gone.err
    bad = cli("contacts", "get", "nonsense:1", check=False)
    assert bad.code == 1 and "422" in bad.err


def test_contacts_find_by_custom_field(cli: Cli) -> None:
    cli.server.require("filterContacts", "setContactCustomField", "createCustomField")
    field = cli("custom-fields", "create", "--name", "plan", "--type", "shortText", "--json").json()
    contact = make_contact(cli)
    cli("contacts", "custom-field", "add", f"id:{contact['id']}", field["id"], "--value", "premium")
    found = cli(
        "contacts", "find-by-custom-field", "--customFieldId", field["id"], "--value", "premium", "--json"
    )
    data = found.json()
    items = data["data"] if isinstance(data, dict) else data
    assert [c["id"] for c in items] == [contact["id"]]


def test_contact_tags(cli: Cli) -> None:
    cli.server.require("listContactTags", "addContactTags", "removeContactTags")
    contact = make_contact(cli)
    ident = f"id:{contact['id']}"
    t1 = cli("tags", "create", "--name", "one", "--json").json()["id"]
    t2 = cli("tags", "create", "--name", "two", "--json").json()["id"]
    assert cli("contacts", "tag", "add", ident, "--tagIds", f"{t1},{t2}").out.strip() == "OK"
    listed = cli("contacts", "tags", "list", ident, "--json").json()
    assert sorted(t["name"] for t in listed) == ["one", "two"]
    cli("contacts", "tag", "delete", ident, "--tagIds", t1)
    assert [t["id"] for t in cli.get(f"/api/v1/contacts/{contact['id']}/tags")] == [t2]


def test_contact_custom_fields(cli: Cli) -> None:
    cli.server.require(
        "listContactCustomFields", "setContactCustomFields", "getContactCustomField",
        "setContactCustomField", "clearContactCustomField",
    )  # fmt: skip
    plan = cli("custom-fields", "create", "--name", "plan", "--type", "shortText", "--json").json()
    seats = cli("custom-fields", "create", "--name", "seats", "--type", "number", "--json").json()
    contact = make_contact(cli)
    ident = f"email:{contact['email']}"
    cli("contacts", "custom-field", "add", ident, plan["id"], "--value", "premium")
    got = cli("contacts", "custom-field", "get", ident, plan["id"], "--json").json()
    assert got["value"] == "premium"
    fields = json.dumps([{"id": plan["id"], "value": "basic"}, {"id": seats["id"], "value": 3}])
    assert cli("contacts", "custom-fields", "update", ident, "--fields", fields).out.strip() == "OK"
    values = {
        v["customFieldId"]: v["value"]
        for v in cli("contacts", "custom-fields", "list", ident, "--json").json()
    }
    assert values[plan["id"]] == "basic" and str(values[seats["id"]]) == "3"
    cli("contacts", "custom-field", "delete", ident, "plan")
    after = cli.get(f"/api/v1/contacts/{contact['id']}/custom-fields")
    assert plan["id"] not in {v["customFieldId"] for v in after if v.get("value") is not None}


def test_block_and_unblock(cli: Cli) -> None:
    cli.server.require("blockContact", "unblockContact")
    contact = make_contact(cli)
    cli("contacts", "block", f"id:{contact['id']}")
    assert cli.get(f"/api/v1/contacts/{contact['id']}")["blockedAt"]
    cli("contacts", "unblock", f"id:{contact['id']}")
    assert cli.get(f"/api/v1/contacts/{contact['id']}")["blockedAt"] is None


def webchat_inbox(cli: Cli) -> str:
    cli.server.require("createChannel")
    return str(
        cli(
            "channels",
            "create",
            "--name",
            unique("web"),
            "--channel",
            "webchat",
            "--config",
            WEBCHAT_CONFIG,
            "-q",
        ).out.strip()
    )


def test_contact_messages(cli: Cli) -> None:
    cli.server.require("listContactMessages", "getContactMessage", "sendMessage")
    contact = make_contact(cli)
    ident = f"id:{contact['id']}"
    listed = cli("contacts", "messages", "list", ident, "--perPage", "10", "--json").json()
    assert listed["data"] == []
    help_text = cli("contacts", "message", "send", "--help").out
    for flag in ("--text", "--files", "--flowId", "--nodeId", "--inboxId"):
        assert flag in help_text
    no_inbox = cli("contacts", "message", "send", ident, "--text", "Hello", check=False)
    assert no_inbox.code == 1 and no_inbox.err.startswith("Error: "), no_inbox
    inbox = webchat_inbox(cli)
    assert (
        cli("contacts", "message", "send", ident, "--text", "Hello", "--inboxId", inbox).out.strip() == "OK"
    )
    messages = cli("contacts", "messages", "list", ident, "--perPage", "10", "--json").json()["data"]
    assert len(messages) == 1
    mid = messages[0]["id"]
    got = cli("contacts", "message", "get", ident, mid, "--json").json()
    assert got["id"] == mid and "Hello" in json.dumps(got)
    missing = cli("contacts", "message", "get", ident, "1", check=False)
    assert missing.code == 1 and "NOT_FOUND" in missing.err


def test_contact_flow_and_auto_replies(cli: Cli) -> None:
    cli.server.require("sendContactFlow", "triggerAutoReply", "createFlow")
    contact = make_contact(cli)
    ident = f"id:{contact['id']}"
    flow = cli("flows", "create", "--name", "Welcome", "--json").json()
    inbox = webchat_inbox(cli)
    assert (
        cli("contacts", "flow", "add", ident, "--flowId", flow["id"], "--inboxId", inbox).out.strip() == "OK"
    )
    unknown = cli("contacts", "flow", "add", ident, "--flowId", "1", "--inboxId", inbox, check=False)
    assert unknown.code == 1 and "NOT_FOUND" in unknown.err
    # no keyword "hello" exists in a fresh workspace: the API says so cleanly
    reply = cli(
        "contacts", "auto-replies", "add", ident, "--keyword", "hello", "--inboxId", inbox, check=False
    )
    assert reply.code == 1 and reply.err.startswith("Error: ") and "hello" in reply.err, reply
    assert "--inboxId" in cli("contacts", "auto-replies", "add", "--help").out


def test_contacts_import_by_file_id_and_local_file(cli: Cli, tmp_path: Path) -> None:
    cli.server.require("importContacts", "uploadFile", "getContactImport")
    csv = tmp_path / "contacts.csv"
    csv.write_text("email,firstName\nimp1@example.com,Imp\nimp2@example.com,Ort\nnot-an-email,Bad\n")
    done = cli(
        "contacts", "import", "./contacts.csv", "--channel", "omnichannel", "--json", cwd=tmp_path
    ).json()
    assert done["status"] == "finished" and done["createdCount"] == 2 and done["failedCount"] == 1
    emails = {c["email"] for c in cli.get("/api/v1/contacts", perPage=50)["data"]}
    assert {"imp1@example.com", "imp2@example.com"} <= emails

    human = cli("contacts", "import", str(csv), "--channel", "omnichannel").out
    assert "finished" in human  # same file content, a new upload: matched and updated, not duplicated

    csv2 = tmp_path / "more.csv"
    csv2.write_text("email\nimp3@example.com\n")
    with cli.api as client:
        resp = client.post("/api/v1/files", files={"file": ("more.csv", csv2.read_bytes(), "text/csv")})
    file_id = resp.json()["id"]
    queued = cli(
        "contacts", "import", "--fileId", file_id, "--channel", "omnichannel", "--no-wait", "--json"
    ).json()
    assert queued["fileId"] == file_id
    followed = cli("contacts", "import", "--fileId", file_id, "--channel", "omnichannel", "--json").json()
    assert followed["id"] == queued["id"] and followed["status"] == "finished"


# --- read-only lists


def test_conversations_list(cli: Cli) -> None:
    cli.server.require("listConversations")
    args = ["--botCategory", "all", "--status", "unread", "--keyword", "x", "--channel", "whatsapp"]
    data = cli("conversations", "list", *args, "--json").json()
    assert data["data"] == []
    assert cli("conversations", "list").code == 0


def test_broadcasts(cli: Cli) -> None:
    cli.server.require("listBroadcasts", "getBroadcast", "getBroadcastAudience")
    from chatbotx.models import Broadcast

    listed = cli("broadcasts", "list", "--json").json()
    assert (listed["data"] if isinstance(listed, dict) else listed) == []
    missing = cli("broadcasts", "get", "Spring sale", check=False)
    assert missing.code == 1 and "NOT_FOUND" in missing.err
    workspace_id = int(cli("workspaces", "get", "--json").json()["id"])
    cli.server.insert(Broadcast(workspace_id=workspace_id, name="Spring sale", audience={}))
    contact = make_contact(cli)
    got = cli("broadcasts", "get", "Spring sale", "--json").json()
    assert got["name"] == "Spring sale"
    assert cli("broadcasts", "list", "-q").out.split() == [got["id"]]
    audience = cli("broadcasts", "audience", "get", "Spring sale", "--page", "1", "--perPage", "5", "--json")
    assert [c["id"] for c in audience.json()["data"]] == [contact["id"]]


def test_flows_list(cli: Cli) -> None:
    cli.server.require("listFlows")
    assert cli("flows", "list", "--json").json() == []
    if cli.server.has("createFlow"):
        cli("flows", "create", "--name", "Welcome")
        assert [f["name"] for f in cli("flows", "list", "--json").json()] == ["Welcome"]


def test_sequences(cli: Cli) -> None:
    cli.server.require("listSequences", "getSequence")
    from chatbotx.models import Sequence

    sort = '[{"id":"createdAt"}]'
    page = cli("sequences", "list", "--page", "1", "--perPage", "5", "--sort", sort, "--json")
    assert page.json()["data"] == []
    missing = cli("sequences", "get", "1", check=False)
    assert missing.code == 1 and "NOT_FOUND" in missing.err
    workspace_id = int(cli("workspaces", "get", "--json").json()["id"])
    cli.server.insert(Sequence(workspace_id=workspace_id, name="Onboarding"))
    listed = cli("sequences", "list", "--page", "1", "--perPage", "5", "--json").json()["data"]
    assert [s["name"] for s in listed] == ["Onboarding"]
    assert cli("sequences", "get", listed[0]["id"], "--json").json()["name"] == "Onboarding"


def test_simple_lists(cli: Cli) -> None:
    for group, operation in (
        ("saved-replies", "listSavedReplies"),
        ("ai-agents", "listAIAgents"),
        ("integrations", "listIntegrations"),
        ("keywords", "listKeywords"),
        ("triggers", "listTriggers"),
        ("webhooks", "listWebhooks"),
    ):
        if not cli.server.has(operation):
            continue
        data = cli(group, "list", "--json").json()
        assert (data["data"] if isinstance(data, dict) else data) == [], group
        assert cli(group, "list").out.strip() == "(no results)", group
    cli.server.require("listSavedReplies")


def test_template_messages_list(cli: Cli) -> None:
    cli.server.require("listTemplateMessages")
    args = ["--inboxId", "1", "--integrationWhatsappId", "1", "--status", "APPROVED"]
    data = cli("template-messages", "list", *args, "--json").json()
    assert (data["data"] if isinstance(data, dict) else data) == []


def test_error_logs_list(cli: Cli) -> None:
    cli.server.require("listErrorLogs")
    data = cli(
        "error-logs", "list", "--page", "1", "--perPage", "5", "--sort", '[{"id":"createdAt","desc":true}]',
        "--keyword", "x", "--json",
    ).json()  # fmt: skip
    assert data["data"] == [] and data["pageCount"] == 0


def test_saved_replies_list(cli: Cli) -> None:
    cli.server.require("listSavedReplies", "createSavedReply")
    cli("saved-replies", "create", "--shortcut", "hi", "--text", "Hello there")
    listed = cli("saved-replies", "list", "--json").json()
    items = listed["data"] if isinstance(listed, dict) else listed
    assert [(r["shortcut"], r["text"]) for r in items] == [("hi", "Hello there")]
    assert "Hello there" in cli("saved-replies", "list").out
