"""docs/billing-openapi.yaml is the contract: it parses, names the four operations at the exact
paths, and what the fake billing answers and what HttpBilling sends validate against it."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from backoffice.billing_http import HttpBilling, check_msisdn
from tests.backoffice.fake_billing import FAKE_BILLING_TOKEN, OPERATIONS, FakeBilling

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "billing-openapi.yaml"
SUBSCRIBER = "/subscribers/{msisdn}"
ROAMING = "/subscribers/{msisdn}/roaming"
BONUSES = "/subscribers/{msisdn}/bonuses"
EXPECTED = {
    ("get", SUBSCRIBER): "getSubscriber",
    ("put", ROAMING): "setRoaming",
    ("post", BONUSES): "grantBonus",
    ("get", BONUSES): "listBonuses",
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _resolve(node: Any, document: dict[str, Any]) -> Any:
    """``node`` with every local ``$ref`` ("#/a/b") replaced by what it points to (the
    document has no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(copy.deepcopy(target), document)
        return {key: _resolve(value, document) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, document) for item in node]
    return node


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    raw = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    resolved = _resolve(raw, raw)
    assert isinstance(resolved, dict)
    return resolved


def _operation(spec: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for (method, path), known in EXPECTED.items():
        if known == operation_id:
            found = spec["paths"][path][method]
            assert isinstance(found, dict)
            return found
    raise KeyError(operation_id)


def _response_schema(spec: dict[str, Any], operation_id: str, status: int) -> dict[str, Any]:
    responses = _operation(spec, operation_id)["responses"]
    declared = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
    assert declared is not None, f"{operation_id} does not declare HTTP {status}"
    schema = declared["content"]["application/json"]["schema"]
    assert isinstance(schema, dict)
    return schema


def _validate(schema: dict[str, Any], instance: Any) -> None:
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    validator.validate(instance)


# -- the document --------------------------------------------------------------------------------

def test_the_document_declares_exactly_the_four_operations(spec: dict[str, Any]) -> None:
    assert str(spec["openapi"]).startswith("3.1")
    found = {
        (method, path): operation["operationId"]
        for path, item in spec["paths"].items()
        for method, operation in item.items() if method in HTTP_METHODS
    }
    assert found == EXPECTED
    assert sorted(EXPECTED.values()) == sorted(OPERATIONS)  # the fake speaks the same names


def test_bearer_auth_msisdn_and_errors_are_declared(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        **spec["components"]["securitySchemes"]["bearerAuth"], "type": "http",
        "scheme": "bearer"}
    assert {"bearerAuth": []} in spec["security"]
    pattern = spec["components"]["schemas"]["Msisdn"]["pattern"]
    for (method, path), operation_id in EXPECTED.items():
        item = spec["paths"][path]
        [parameter] = item["parameters"]
        assert (parameter["name"], parameter["in"], parameter["schema"]["pattern"]) == (
            "msisdn", "path", pattern)
        responses = item[method]["responses"]
        for status in ("401", "404", "5XX"):
            assert status in responses, f"{operation_id} does not declare {status}"
    # the documented format is the one HttpBilling enforces
    schema = spec["components"]["schemas"]["Msisdn"]
    for sample in ("375291234567", "1234567", "123456789012345"):
        _validate(schema, sample)
        assert check_msisdn(sample) == sample
    for sample in ("+375291234567", "123456", "1234567890123456", "0291234567", "37529 1234567"):
        with pytest.raises(jsonschema.ValidationError):
            _validate(schema, sample)
        with pytest.raises(ValueError):
            check_msisdn(sample)


def test_the_description_states_the_privacy_promises() -> None:
    raw = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    description = raw["info"]["description"]
    assert "never caches these figures across subscribers" in description
    assert "never logs them" in description
    assert "idempotency_key" in raw["paths"][BONUSES]["post"]["description"]


def test_the_schemas_are_not_vacuous(spec: dict[str, Any]) -> None:
    subscriber = _response_schema(spec, "getSubscriber", 200)
    good = {"msisdn": "375291234567", "balance": {"amount": "12.34", "currency": "BYN"},
            "tariff": {"name": "Smart"}, "roaming": {"enabled": False}, "status": "active"}
    _validate(subscriber, good)
    for broken in ({k: v for k, v in good.items() if k != "balance"},
                   {**good, "balance": {"amount": "12,34", "currency": "BYN"}},
                   {**good, "balance": {"amount": "1", "currency": "byn"}},
                   {**good, "roaming": {"enabled": "yes"}},
                   {**good, "tariff": {}}):
        with pytest.raises(jsonschema.ValidationError):
            _validate(subscriber, broken)
    listing = _response_schema(spec, "listBonuses", 200)
    with pytest.raises(jsonschema.ValidationError):
        _validate(listing, {"items": [{"kind": "traffic_mb", "amount": 1, "reason": "r",
                                       "idempotency_key": "k"}]})  # no "used"
    with pytest.raises(jsonschema.ValidationError):
        _validate(listing, {"items": [{"kind": "traffic_mb", "amount": 1, "reason": "r",
                                       "idempotency_key": "k", "used": False,
                                       "granted_at": "yesterday"}]})


# -- the fake's answers and HttpBilling's requests against the document ------------------------

@pytest.fixture(scope="module")
def fake_billing_server() -> Iterator[FakeBilling]:
    with FakeBilling() as server:
        yield server


@pytest.fixture
def fake(fake_billing_server: FakeBilling) -> FakeBilling:
    fake_billing_server.reset()
    return fake_billing_server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_the_fakes_answers_validate(
    spec: dict[str, Any], fake: FakeBilling, http: httpx.AsyncClient
) -> None:
    sub = fake.add_subscriber()
    unnamed = fake.add_subscriber(tariff=None, roaming=True, status="blocked")
    auth = {"Authorization": f"Bearer {FAKE_BILLING_TOKEN}"}
    grant = {"kind": "traffic_mb", "amount": 100, "reason": "outage", "idempotency_key": "k1"}

    async def call(operation_id: str, method: str, path: str, expected: int,
                   body: Any = None, headers: dict[str, str] | None = None) -> Any:
        response = await http.request(method, f"{fake.url}{path}", json=body,
                                      headers=auth if headers is None else headers)
        assert response.status_code == expected, response.text
        payload = response.json()
        _validate(_response_schema(spec, operation_id, expected), payload)
        return payload

    base = f"/subscribers/{sub.msisdn}"
    checked = [
        ("getSubscriber", "GET", base, 200, None),
        ("getSubscriber", "GET", f"/subscribers/{unnamed.msisdn}", 200, None),
        ("getSubscriber", "GET", "/subscribers/375440000001", 404, None),
        ("getSubscriber", "GET", "/subscribers/12345", 400, None),
        ("setRoaming", "PUT", f"{base}/roaming", 200, {"enabled": True}),
        ("setRoaming", "PUT", f"{base}/roaming", 400, {"enabled": "on"}),
        ("setRoaming", "PUT", "/subscribers/375440000001/roaming", 404, {"enabled": True}),
        ("listBonuses", "GET", f"{base}/bonuses", 200, None),
        ("grantBonus", "POST", f"{base}/bonuses", 201, grant),
        ("grantBonus", "POST", f"{base}/bonuses", 200, grant),
        ("grantBonus", "POST", f"{base}/bonuses", 422, {**grant, "amount": 500}),
        ("grantBonus", "POST", f"{base}/bonuses", 400, {**grant, "amount": 0}),
        ("listBonuses", "GET", f"{base}/bonuses", 200, None),
        ("listBonuses", "GET", "/subscribers/375440000001/bonuses", 404, None),
    ]
    for operation_id, method, path, status, body in checked:
        await call(operation_id, method, path, status, body)
    listed = await call("listBonuses", "GET", f"{base}/bonuses", 200)
    assert [item["idempotency_key"] for item in listed["items"]] == ["k1"]

    fake.replay_status = 409
    conflict = await call("grantBonus", "POST", f"{base}/bonuses", 409, grant)
    assert conflict["idempotency_key"] == "k1"
    for operation_id, method, path in (("getSubscriber", "GET", base),
                                       ("setRoaming", "PUT", f"{base}/roaming"),
                                       ("grantBonus", "POST", f"{base}/bonuses"),
                                       ("listBonuses", "GET", f"{base}/bonuses")):
        await call(operation_id, method, path, 401, {"enabled": True}, headers={})
        fake.fail_next(operation_id, 503)
        await call(operation_id, method, path, 503, {"enabled": True})
        fake.fail_next(operation_id, 429, retry_after=1)
        await call(operation_id, method, path, 429, {"enabled": True})


async def test_httpbillings_requests_validate(
    spec: dict[str, Any], fake: FakeBilling, http: httpx.AsyncClient
) -> None:
    sub = fake.add_subscriber()
    billing = HttpBilling(http, fake.url, FAKE_BILLING_TOKEN)
    await billing.subscriber(sub.msisdn)
    await billing.set_roaming(sub.msisdn, True)
    await billing.grant_bonus(sub.msisdn, kind="traffic_mb", amount=100, reason="outage",
                              idempotency_key="goodwill:42")
    await billing.bonuses(sub.msisdn)
    calls = {call.operation: call for call in fake.calls()}
    assert set(calls) == set(OPERATIONS)
    for operation_id, call in calls.items():
        assert call.status in (200, 201)
        assert call.authorization == f"Bearer {FAKE_BILLING_TOKEN}"
        request_body = _operation(spec, operation_id).get("requestBody")
        if request_body is None:
            assert call.body is None, f"{operation_id} sent a body"
            continue
        _validate(request_body["content"]["application/json"]["schema"], call.body)
