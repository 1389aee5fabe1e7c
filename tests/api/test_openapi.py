from __future__ import annotations

import json

from django.test import Client

PATHS = {
    "/api/accounts",
    "/api/accounts/{number}",
    "/api/persons/{person_id}",
    "/api/premises/{number}",
    "/api/meters/{serial}",
    "/api/search",
}


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


class TestOpenApiDocument:
    def test_is_openapi_3_1_and_lists_every_path(self, db):
        response = Client().get("/api/openapi.json")

        document = response.json()
        assert response.status_code == 200
        assert document["openapi"].startswith("3.1.")
        assert set(document["paths"]) >= PATHS

    def test_uses_3_1_nullables_and_resolvable_references(self, db):
        document = Client().get("/api/openapi.json").json()

        nodes = list(_walk(document))
        refs = {node["$ref"] for node in nodes if "$ref" in node}
        schemas = document["components"]["schemas"]
        # 3.0's "nullable" keyword is not 3.1: a null value is {"type": "null"} in anyOf.
        assert not any("nullable" in node for node in nodes)
        assert {"type": "null"} in schemas["AccountFlagsOut"]["properties"][
            "do_not_disconnect_until"
        ]["anyOf"]
        assert refs
        assert all(ref.removeprefix("#/components/schemas/") in schemas for ref in refs)

    def test_declares_bearer_auth_and_the_error_responses(self, db):
        document = Client().get("/api/openapi.json").json()

        operation = document["paths"]["/api/accounts/{number}"]["get"]
        assert document["components"]["securitySchemes"]["TokenAuth"] == {
            "type": "http",
            "scheme": "bearer",
        }
        assert operation["security"] == [{"TokenAuth": []}]
        assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])
        assert "ValidationErrorOut" in json.dumps(operation["responses"]["422"])

    def test_the_docs_page_is_served(self, db):
        response = Client().get("/api/docs")

        assert response.status_code == 200
