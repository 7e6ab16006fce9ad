"""The seed's three recipes, verbatim through bash with jq (only <identifier> filled in)."""

from __future__ import annotations

from tests.cli.conftest import Cli

WEBCHAT_CONFIG = '{"websiteUrl": "https://shop.example.com"}'  # a webchat channel needs its website


def contact_identifier(cli: Cli) -> tuple[str, str]:
    contact = cli("contacts", "create", "--email", "recipe@example.com", "--json").json()
    return contact["id"], "email:recipe@example.com"


def test_tag_a_contact_by_name(cli: Cli) -> None:
    cli.server.require("createContact", "addContactTags")
    cid, identifier = contact_identifier(cli)
    vip = cli("tags", "create", "--name", "vip", "--json").json()
    result = cli.sh(
        "TAG_ID=$(chatbotx tags get \"vip\" --json | jq -r '.id')\n"
        f"chatbotx contacts tag add {identifier} --tagIds $TAG_ID\n"
    )
    assert result.code == 0, result
    assert [t["id"] for t in cli.get(f"/api/v1/contacts/{cid}/tags")] == [vip["id"]]


def test_send_a_flow_to_a_contact(cli: Cli) -> None:
    cli.server.require("createContact", "sendContactFlow", "createFlow", "createChannel", "sendMessage")
    _cid, identifier = contact_identifier(cli)
    # the contact talks on a webchat inbox, so the flow has a conversation to run in
    inbox = cli(
        "channels", "create", "--name", "Web", "--channel", "webchat", "--config", WEBCHAT_CONFIG, "-q"
    ).out.strip()
    cli("contacts", "message", "send", identifier, "--text", "Hi", "--inboxId", inbox)
    cli("flows", "create", "--name", "Other")
    welcome = cli("flows", "create", "--name", "Welcome", "--json").json()
    found = cli.sh("chatbotx flows list --json | jq -r '.[] | select(.name==\"Welcome\") | .id'")
    assert found.code == 0 and found.out.strip() == welcome["id"], found
    result = cli.sh(
        "FLOW_ID=$(chatbotx flows list --json | jq -r '.[] | select(.name==\"Welcome\") | .id')\n"
        f"chatbotx contacts flow add {identifier} --flowId $FLOW_ID\n"
    )
    assert result.code == 0, result
    assert result.out.strip() == "OK"


def test_set_a_custom_field_on_a_contact(cli: Cli) -> None:
    cli.server.require("createContact", "setContactCustomField", "createCustomField")
    cid, identifier = contact_identifier(cli)
    plan = cli("custom-fields", "create", "--name", "plan", "--type", "shortText", "--json").json()
    result = cli.sh(
        "FIELD_ID=$(chatbotx custom-fields get \"plan\" --json | jq -r '.id')\n"
        f'chatbotx contacts custom-field add {identifier} $FIELD_ID --value "premium"\n'
    )
    assert result.code == 0, result
    values = {v["customFieldId"]: v["value"] for v in cli.get(f"/api/v1/contacts/{cid}/custom-fields")}
    assert values[plan["id"]] == "premium"
