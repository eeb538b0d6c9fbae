"""The OpenAPI document matches the URL map, both ways, with each operation's permission."""

from __future__ import annotations

import re


def _api_routes(app) -> dict[tuple[str, str], str]:
    """(OpenAPI path, method) → endpoint, for every rule of the API blueprint."""
    routes = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes[(path, method.lower())] = rule.endpoint
    return routes


def test_every_api_route_is_documented_and_nothing_else(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json
    assert doc["openapi"] == "3.1.0"
    documented = {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    routes = _api_routes(app)
    assert documented == set(routes)
    for (path, method), endpoint in routes.items():
        permission = getattr(app.view_functions[endpoint], "permission", None)
        operation = doc["paths"][path][method]
        if permission == "public":
            assert operation["security"] in ([], [{"clientBasic": []}, {}])
        else:
            assert operation["x-permission"] == permission
            assert operation["security"] == [{"oauth2": [permission]}]


def test_the_document_declares_the_client_credentials_flow_and_resolves_its_references(client):
    doc = client.get("/api/v1/openapi.json").json
    flow = doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"].endswith("/api/v1/oauth/token") and flow["tokenUrl"].startswith("http")
    assert set(flow["scopes"]) == {
        "members.read", "members.enrol", "members.manage", "care.check_eligibility", "care.record"
    }  # fmt: skip
    assert {"Member", "Household", "Error", "Page"} <= set(doc["components"]["schemas"])
    references = set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', str(doc).replace("'", '"')))
    for kind, name in references:
        assert name in doc["components"][kind], (kind, name)
