"""The HTTP service against a real uvicorn server (``thresher serve`` in a child process)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from liveserver import REPO, start_server, stop_server
from resources import CLEAN, SCRAPED, SPUN

from service.scoring import score_text
from training.features import FEATURE_NAMES


@pytest.fixture(scope="module")
def client(live_server):
    with live_server.client() as c:
        yield c


@pytest.fixture(scope="module")
def shipped_model(shipped_model_dir):
    from service.model import load_model

    return load_model(shipped_model_dir)


def _error(resp: httpx.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["error"]["code"] == code, body
    assert len(body["error"]["message"]) > 10
    return body["error"]


# ---------------------------------------------------------------------------------------------- health


def test_healthz_and_readyz(client, shipped_model):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["model"] == {"name": shipped_model.name, "version": shipped_model.version}


def test_healthz_and_readyz_answer_head_as_probes_send_it(client):
    """A load balancer's check may be HEAD (RFC 9110: a GET resource answers HEAD); it was 405."""
    for path in ("/healthz", "/readyz"):
        resp = client.head(path)
        assert resp.status_code == 200, (path, resp.status_code)
        assert resp.content == b"" and resp.headers["content-type"].startswith("application/json")
    assert "head" not in client.get("/openapi.json").json()["paths"]["/healthz"]


def test_model_route_gives_the_manifest(client, shipped_model):
    info = client.get("/v1/model").json()
    assert info["version"] == shipped_model.version
    assert info["feature_names"] == list(FEATURE_NAMES)
    assert info["thresholds"] == shipped_model.thresholds
    assert info["metrics"]["roc_auc"] == shipped_model.manifest["metrics"]["roc_auc"]


# ---------------------------------------------------------------------------------------------- scoring


@pytest.mark.parametrize("name,text", [("clean", CLEAN), ("scraped", SCRAPED), ("spun", SPUN)])
def test_score_json_matches_the_library(client, shipped_model, name, text):
    resp = client.post("/v1/score", json={"text": text, "id": name})
    assert resp.status_code == 200, resp.text
    got = resp.json()
    want = score_text(text, model=shipped_model, doc_id=name)
    assert got["score"] == want["score"]
    assert got["verdict"] == want["verdict"]
    assert got["id"] == name
    assert [r["code"] for r in got["reasons"]] == [r["code"] for r in want["reasons"]]
    assert got["reasons"] == json.loads(json.dumps(want["reasons"]))
    assert got["model"] == {"name": shipped_model.name, "version": shipped_model.version}
    assert got["elapsed_ms"] > 0
    assert set(got) >= {"signals", "language", "explanation", "stats", "lines", "cleaned_text"}


def test_score_plain_text_and_query_fields(client, shipped_model):
    want = score_text(SCRAPED, model=shipped_model, title="A title", url="https://example.com/a")
    resp = client.post("/v1/score", content=SCRAPED.encode(), headers={"content-type": "text/plain; charset=utf-8"},
                       params={"title": "A title", "url": "https://example.com/a", "lang": "en"})
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert got["score"] == want["score"]
    assert got["language"]["declared"] == "en" and got["language"]["matches_declared"] is True


def test_plain_text_in_a_declared_charset(client):
    resp = client.post("/v1/score", content=CLEAN.replace("'", "é").encode("latin-1", "replace"),
                       headers={"content-type": "text/plain; charset=latin-1"})
    assert resp.status_code == 200, resp.text


def test_plain_text_in_utf16_and_utf32_is_decoded_before_the_binary_check(client):
    want = client.post("/v1/score", content=CLEAN.encode(), headers={"content-type": "text/plain"}).json()["score"]
    for charset, data in [("utf-16", CLEAN.encode("utf-16")), ("utf-16le", CLEAN.encode("utf-16-le")),
                          ("UTF-32", CLEAN.encode("utf-32")), ("utf-8", "\ufeff".encode() + CLEAN.encode())]:
        resp = client.post("/v1/score", content=data, headers={"content-type": f"text/plain; charset={charset}"})
        assert resp.status_code == 200, (charset, resp.text)
        assert resp.json()["score"] == want, charset
    # a NUL character is binary in any charset
    err = _error(client.post("/v1/score", content=("PK\x00zip " + CLEAN).encode("utf-16"),
                             headers={"content-type": "text/plain; charset=utf-16"}), 400, "binary")
    assert "NUL" in err["message"]


def test_json_in_utf16_and_utf32_is_read_and_other_charsets_are_told_json_is_utf8(client):
    body = json.dumps({"text": CLEAN, "id": "é"}, ensure_ascii=False)
    want = client.post("/v1/score", json={"text": CLEAN}).json()["score"]
    for encoding, charset in [("utf-16", "utf-16"), ("utf-16-le", None), ("utf-32-be", "utf-32"), ("utf-8", "latin-1")]:
        headers = {"content-type": "application/json" + (f"; charset={charset}" if charset else "")}
        resp = client.post("/v1/score", content=body.encode(encoding), headers=headers)
        assert resp.status_code == 200, (encoding, resp.text)
        assert resp.json()["score"] == want and resp.json()["id"] == "é", encoding
    batch = json.dumps({"articles": [{"text": CLEAN}]}).encode("utf-16")
    assert client.post("/v1/score/batch", content=batch, headers={"content-type": "application/json"}).status_code == 200
    err = _error(client.post("/v1/score", content=body.encode("latin-1"),
                             headers={"content-type": "application/json; charset=iso-8859-1"}), 400, "not_utf8")
    assert "RFC 8259" in err["message"] and "iso-8859-1" in err["message"], err


def test_declared_language_that_detection_disagrees_with(client):
    got = client.post("/v1/score", json={"text": CLEAN, "lang": "de"}).json()
    assert got["language"]["declared"] == "de" and got["language"]["matches_declared"] is False


def test_declared_language_tags_are_case_insensitive_and_may_have_subtags(client):
    for tag in ("EN", "en-US", "En-gb", "en-Latn-US"):
        got = client.post("/v1/score", json={"text": CLEAN, "lang": tag})
        assert got.status_code == 200, (tag, got.text)
        assert got.json()["language"]["declared"] == tag and got.json()["language"]["matches_declared"] is True
    assert client.post("/v1/score", json={"text": CLEAN, "lang": "zh-Hant-TW"}).status_code == 200
    for bad in ("english", "e", "en_US", "en-", "en-US-x-private-subtags-too-many-here"):
        _error(client.post("/v1/score", json={"text": CLEAN, "lang": bad}), 422, "invalid")


def test_explain_false_leaves_out_evidence(client):
    full = client.post("/v1/score", json={"text": SCRAPED}).json()
    lean = client.post("/v1/score", params={"explain": "false"}, json={"text": SCRAPED}).json()
    assert lean["score"] == full["score"]
    assert "lines" not in lean and "cleaned_text" not in lean
    assert all(not r.get("evidence") for r in lean["reasons"])
    assert any(r.get("evidence") for r in full["reasons"])


def test_spun_text_names_its_misspellings(client):
    got = client.post("/v1/score", json={"text": SPUN}).json()
    found = {e.get("found") for r in got["reasons"] if r["code"] == "misspelled_entities" for e in r["evidence"]}
    assert "Okonkow" in found


# ----------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("text", ["", "   ", "\n\t\r\n"])
def test_empty_text_is_422(client, text):
    _error(client.post("/v1/score", json={"text": text}), 422, "empty")
    _error(client.post("/v1/score", content=text.encode(), headers={"content-type": "text/plain"}), 422, "empty")


@pytest.mark.parametrize("body", [{"text": 3}, {"text": None}, {"title": "no text"}, {"text": "x", "lang": "English!"},
                                  {"text": ["a"]}, ["text"], "text", 7])
def test_wrong_types_are_422(client, body):
    err = _error(client.post("/v1/score", json=body), 422, "invalid")
    if isinstance(body, dict):
        assert err["errors"], err


@pytest.mark.parametrize("raw", [b"{", b"{'text': 'single quotes'}", b'{"text": "a"} trailing', b"[" * 100_000,
                                 b'{"text": "a b c", "x": ' + b"9" * 4301 + b"}"])  # over Python's int digits
def test_malformed_json_is_400(client, raw):
    _error(client.post("/v1/score", content=raw, headers={"content-type": "application/json"}), 400, "bad_json")


def test_a_number_over_python_digits_is_told_as_the_client_can_fix_it(client):
    """Python's own advice ("use sys.set_int_max_str_digits()") is no advice to a client."""
    raw = b'{"text": "a b c", "x": ' + b"9" * 4301 + b"}"
    err = _error(client.post("/v1/score", content=raw, headers={"content-type": "application/json"}), 400, "bad_json")
    assert "4300 digits" in err["message"] and "as a string" in err["message"], err
    assert "sys." not in err["message"], err


def test_invalid_utf8_is_400(client):
    bad = b'{"text": "caf\xe9 au lait"}'
    _error(client.post("/v1/score", content=bad, headers={"content-type": "application/json"}), 400, "not_utf8")
    _error(client.post("/v1/score", content=b"caf\xe9\xff", headers={"content-type": "text/plain"}), 400, "not_utf8")


def test_lone_surrogate_is_refused_not_a_500(client):
    raw = b'{"text": "A line with a broken \\ud800 escape in it.", "id": "\\udfff"}'
    _error(client.post("/v1/score", content=raw, headers={"content-type": "application/json"}), 400, "not_utf8")


def test_binary_plain_text_is_400(client):
    _error(client.post("/v1/score", content=b"PK\x03\x04\x00\x00zip", headers={"content-type": "text/plain"}),
           400, "binary")


def test_too_large_is_413_with_and_without_content_length(client):
    big = ("word " * 60_000).encode()  # 300 KB > the server's 256 KiB limit
    _error(client.post("/v1/score", content=big, headers={"content-type": "text/plain"}), 413, "too_large")

    def chunks():
        for _ in range(60):
            yield b"word " * 1000

    _error(client.post("/v1/score", content=chunks(), headers={"content-type": "text/plain"}), 413, "too_large")


def test_gzip_and_deflate_bodies_are_decompressed(client):
    import gzip
    import zlib

    plain = client.post("/v1/score", json={"text": CLEAN}, params={"explain": "false"}).json()
    body = json.dumps({"text": CLEAN}).encode()
    for encoding, data in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        resp = client.post("/v1/score", content=data, params={"explain": "false"},
                           headers={"content-type": "application/json", "content-encoding": encoding})
        assert resp.status_code == 200, resp.text
        assert resp.json()["score"] == plain["score"]
    raw = zlib.compressobj(wbits=-15)  # raw deflate, without the zlib wrapper: some clients send it
    members = body[:40], body[40:]  # two gzip members, one after the other, are one gzip body
    for encoding, data in (("deflate", raw.compress(body) + raw.flush()),
                           ("gzip", gzip.compress(members[0]) + gzip.compress(members[1]) + b"\0\0")):
        resp = client.post("/v1/score", content=data, params={"explain": "false"},
                           headers={"content-type": "application/json", "content-encoding": encoding})
        assert resp.status_code == 200, resp.text
        assert resp.json()["score"] == plain["score"]
    batch = client.post("/v1/score/batch", content=gzip.compress(json.dumps({"articles": [{"text": CLEAN}]}).encode()),
                        headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert batch.json()["results"][0]["score"] == plain["score"]


def test_bad_content_encodings(client):
    import gzip

    json_headers = {"content-type": "application/json"}
    _error(client.post("/v1/score", content=b'{"text": "hello"}', headers={**json_headers, "content-encoding": "br"}),
           415, "unsupported_encoding")
    _error(client.post("/v1/score", content=b'{"text": "not gzip"}', headers={**json_headers, "content-encoding": "gzip"}),
           400, "bad_encoding")
    # data after the end of the stream would be dropped unseen: refused
    _error(client.post("/v1/score", content=gzip.compress(b'{"text": "hello there"}') + b'{"text": "more"}',
                       headers={**json_headers, "content-encoding": "gzip"}), 400, "bad_encoding")
    cut = gzip.compress(json.dumps({"text": CLEAN}).encode())[:-12]
    _error(client.post("/v1/score", content=cut, headers={**json_headers, "content-encoding": "gzip"}),
           400, "bad_encoding")
    # 300 KB of text in a 1 KB gzip stream: over the server's 256 KiB limit once decompressed
    bomb = gzip.compress(json.dumps({"text": "word " * 60_000}).encode())
    assert len(bomb) < 10_000
    err = _error(client.post("/v1/score", content=bomb, headers={**json_headers, "content-encoding": "gzip"}),
                 413, "too_large")
    assert "decompressed" in err["message"]


@pytest.mark.parametrize("ctype", ["application/x-www-form-urlencoded", "text/html", "application/xml", ""])
def test_unsupported_media_type_is_415(client, ctype):
    headers = {"content-type": ctype} if ctype else {}
    _error(client.post("/v1/score", content=b"text=hello", headers=headers), 415, "unsupported_media_type")


@pytest.mark.parametrize("charset", ["klingon", "hex", "base64", "rot13", "zip", "undefined", "punycode", "idna",
                                     "unicode_escape"])
def test_unknown_or_no_text_charset_is_415(client, charset):
    """A Python codec that is no text charset (bytes to bytes, escapes, domain names) is no charset either."""
    _error(client.post("/v1/score", content=b"hello-99999zz", headers={"content-type": f"text/plain; charset={charset}"}),
           415, "unsupported_media_type")


def test_a_query_parameter_given_twice_is_422(client):
    for params in ({"url": ["https://a.example/", "https://b.example/"]}, {"explain": ["true", "false"]},
                   {"lang": ["en", "de"]}):
        err = _error(client.post("/v1/score", params=params, content=CLEAN.encode(),
                                 headers={"content-type": "text/plain"}), 422, "invalid")
        assert "give it once" in err["message"]
    _error(client.post("/v1/score/batch", params={"explain": ["true", "false"]},
                       json={"articles": [{"text": CLEAN}]}), 422, "invalid")


def test_title_url_or_lang_in_the_query_with_a_json_body_is_422_not_ignored(client):
    """?title=, ?url= and ?lang= are for text/plain bodies; beside a JSON body they were dropped without a word
    (language.declared missing, the title not read): the caller is told to put them in the JSON object."""
    for params in ({"title": "A headline"}, {"url": "https://a.example/x"}, {"lang": "en"}):
        (name,) = params
        err = _error(client.post("/v1/score", params=params, json={"text": CLEAN}), 422, "invalid")
        assert f"'{name}'" in err["message"] and "JSON" in err["message"], err
    ok = client.post("/v1/score", params={"lang": "en"}, content=CLEAN.encode(), headers={"content-type": "text/plain"})
    assert ok.status_code == 200 and ok.json()["language"]["declared"] == "en", ok.text
    assert client.post("/v1/score", params={"explain": "false"}, json={"text": CLEAN, "lang": "en"}).status_code == 200


def test_title_url_or_lang_in_the_query_of_a_batch_is_422_not_ignored(client):
    """The batch has no ?title=, ?url= or ?lang= (each article carries its own): a caller who sends ?lang=en
    for every article was answered 200 with none of them read."""
    for params in ({"title": "A headline"}, {"url": "https://a.example/x"}, {"lang": "en"}):
        (name,) = params
        err = _error(client.post("/v1/score/batch", params=params, json={"articles": [{"text": CLEAN}]}), 422,
                     "invalid")
        assert f"'{name}'" in err["message"] and "each article" in err["message"], err
    ok = client.post("/v1/score/batch", params={"explain": "false"}, json={"articles": [{"text": CLEAN, "lang": "en"}]})
    assert ok.status_code == 200 and ok.json()["results"][0]["language"]["declared"] == "en", ok.text


def test_bad_query_parameter_is_422(client):
    _error(client.post("/v1/score", params={"explain": "perhaps"}, json={"text": CLEAN}), 422, "invalid")


def test_unknown_route_and_method_are_json(client):
    _error(client.get("/v1/nothing"), 404, "not_found")
    _error(client.get("/v1/score"), 405, "method_not_allowed")


# ------------------------------------------------------------------------------------------------ batch


def test_batch_scores_in_order_and_isolates_bad_items(client, shipped_model):
    articles = [{"text": CLEAN, "id": "a"}, {"text": "  ", "id": "b"}, {"text": 5, "id": "c"}, "junk",
                {"text": SPUN, "id": "e"}]
    resp = client.post("/v1/score/batch", json={"articles": articles})
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["id"] for r in results] == ["a", "b", "c", None, "e"]
    assert [r.get("index") for r in results] == [None, 1, 2, 3, None]  # errors say where they are
    assert results[0]["score"] == score_text(CLEAN, model=shipped_model)["score"]
    assert results[1]["error"]["code"] == "empty"
    assert results[2]["error"]["code"] == "invalid"
    assert results[3]["error"]["code"] == "invalid"
    assert results[4]["verdict"] in {"reliable", "suspect", "unreliable"}


def test_an_article_that_is_no_object_is_named_by_its_json_type(client):
    """The caller sent JSON, and is told what it sent in JSON's words, not Python's (NoneType, int, list, str)."""
    items = [None, 5, 2.5, True, "junk", []]
    results = client.post("/v1/score/batch", json={"articles": items}).json()["results"]
    said = [r["error"]["message"].rsplit("got ", 1)[1] for r in results]
    assert said == ["a JSON null", "a JSON number", "a JSON number", "a JSON boolean", "a JSON string", "a JSON array"]
    err = _error(client.post("/v1/score", content=b"null", headers={"content-type": "application/json"}), 422,
                 "invalid")
    assert err["message"] == "expected a JSON object with a 'text' field, got a JSON null"


def test_batch_errors_keep_the_callers_id_and_give_the_index(client):
    articles = [{"text": 5, "id": 17}, {"text": "", "id": True}, {"text": 5, "id": {"k": [1, "é"]}},
                {"text": 5, "id": None}, ["not", "an", "object"], 42, {"text": 5, "id": "\ud800"}]
    raw = json.dumps({"articles": articles}).encode()
    resp = client.post("/v1/score/batch", content=raw, headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["id"] for r in results] == ["17", "true", '{"k":[1,"é"]}', None, None, None, "\\ud800"]
    assert [r["index"] for r in results] == list(range(len(articles)))
    assert [r["error"]["code"] for r in results] == ["invalid", "empty", "invalid", "invalid", "invalid", "invalid",
                                                     "invalid"]


def test_an_id_beyond_a_doubles_range_is_refused_not_answered_as_infinity(client):
    """An id of 1e400 (valid JSON; Python reads it as infinity) came back as "Infinity", which is not what was
    sent and not a JSON number. The item is refused with its own error (id null: there is no text to give it),
    the others are scored; a single article gets 422 'invalid'. Every answer is strict JSON."""
    def strict(text: str) -> object:
        def refuse(name: str) -> object:
            raise AssertionError(f"{name} in the answer: not JSON")
        return json.loads(text, parse_constant=refuse)

    body = ('{"articles": [{"text": ' + json.dumps(CLEAN) + ', "id": 1e400}, {"text": ' + json.dumps(CLEAN)
            + ', "id": [1, -1e999]}, {"text": 5, "id": 1e400}, {"text": ' + json.dumps(CLEAN) + ', "id": 1e300}]}')
    resp = client.post("/v1/score/batch?explain=false", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text
    results = strict(resp.text)["results"]
    assert [(r["id"], r.get("index")) for r in results] == [(None, 0), (None, 1), (None, 2), ("1e+300", None)]
    for r in results[:3]:
        assert r["error"]["code"] == "invalid" and ["id"] in [e["loc"] for e in r["error"]["errors"]]
        assert "'id' holds a number beyond a double's range (such as 1e400)" in r["error"]["message"], r
    assert "text" in results[2]["error"]["message"] and 0 <= results[3]["score"] <= 100
    resp = client.post("/v1/score", content='{"text": ' + json.dumps(CLEAN) + ', "id": 1e400}',
                       headers={"content-type": "application/json"})
    err = _error(resp, 422, "invalid")
    strict(resp.text)
    assert err["errors"] == [{"loc": ["id"], "message": "'id' holds a number beyond a double's range (such as 1e400) "
                                                        "or NaN; send the id as a string"}]


def test_a_non_string_id_is_its_json_text_as_in_score_jsonl(client, shipped_model, tmp_path):
    """A record scored by `thresher score --jsonl` is scored by the API too: an id that is not a string is its
    JSON text (7 -> "7") in both, not a 422 from the API alone."""
    records = [{"text": CLEAN, "id": 7}, {"text": CLEAN, "id": True}, {"text": CLEAN, "id": {"k": [1, "é"]}}]
    src = tmp_path / "ids.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    cli = subprocess.run([sys.executable, "-m", "service.cli", "score", "--jsonl", str(src), "--no-explain"],
                         cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert cli.returncode == 0, cli.stderr
    want = [json.loads(line) for line in cli.stdout.splitlines()]
    assert [w["id"] for w in want] == ["7", "true", '{"k":[1,"é"]}']
    for record, expected in zip(records, want, strict=True):
        resp = client.post("/v1/score?explain=false", json=record)
        assert resp.status_code == 200, resp.text
        assert resp.json()["id"] == expected["id"]
        assert resp.json()["score"] == expected["score"]
    batch = client.post("/v1/score/batch?explain=false", json={"articles": records}).json()["results"]
    assert [(r["id"], r["score"]) for r in batch] == [(w["id"], w["score"]) for w in want]
    body = client.get("/openapi.json").json()["paths"]["/v1/score"]["post"]["requestBody"]["content"]
    schema = body["application/json"]["schema"]["properties"]["id"]
    assert "type" not in schema and "anyOf" not in schema, schema  # any JSON value


def test_batch_limits_and_shape(client):
    _error(client.post("/v1/score/batch", json={"articles": [{"text": CLEAN}] * 9}), 422, "too_many_articles")
    _error(client.post("/v1/score/batch", json={"texts": []}), 422, "invalid")
    _error(client.post("/v1/score/batch", json=[{"text": CLEAN}]), 422, "invalid")
    assert client.post("/v1/score/batch", json={"articles": []}).json()["results"] == []
    _error(client.post("/v1/score/batch", content=b"{", headers={"content-type": "application/json"}), 400, "bad_json")
    _error(client.post("/v1/score/batch", content=b"x", headers={"content-type": "text/plain"}), 415,
           "unsupported_media_type")


# ---------------------------------------------------------------------------------------------- metrics


def _metric(text: str, metric: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(metric + "{") and not line.startswith(metric + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_requests_scores_and_model(client, shipped_model):
    before = client.get("/metrics").text
    client.post("/v1/score", json={"text": CLEAN})
    client.post("/v1/score", json={"text": ""})
    after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    ok = dict(route="/v1/score", method="POST", status="200")
    bad = dict(route="/v1/score", method="POST", status="422")
    assert _metric(text, "thresher_http_requests_total", **ok) == _metric(before, "thresher_http_requests_total", **ok) + 1
    assert _metric(text, "thresher_http_requests_total", **bad) == _metric(before, "thresher_http_requests_total", **bad) + 1
    assert _metric(text, "thresher_http_request_duration_seconds_count", route="/v1/score") >= 2
    v = shipped_model.version
    assert _metric(text, "thresher_score_count", model_version=v) == _metric(before, "thresher_score_count", model_version=v) + 1
    assert _metric(text, "thresher_verdicts_total", model_version=v) >= 1
    assert _metric(text, "thresher_model_info", version=v, name=shipped_model.name) == 1


def test_every_rejected_document_is_counted_once_by_its_code(client):
    import gzip

    def counts() -> dict[str, float]:
        text = client.get("/metrics").text
        found = re.findall(r'^thresher_rejected_documents_total\{code="([^"]+)"\} (\S+)$', text, re.M)
        return {code: float(value) for code, value in found}

    json_headers = {"content-type": "application/json"}
    before = counts()
    # single requests, one of each code a document can be refused with
    _error(client.post("/v1/score", json={"text": " "}), 422, "empty")
    _error(client.post("/v1/score", json={"text": 3}), 422, "invalid")
    _error(client.post("/v1/score", params={"explain": "perhaps"}, json={"text": CLEAN}), 422, "invalid")
    _error(client.post("/v1/score", content=b'{"text": "caf\xe9"}', headers=json_headers), 400, "not_utf8")
    _error(client.post("/v1/score", content=b"PK\x03\x04\x00", headers={"content-type": "text/plain"}), 400, "binary")
    _error(client.post("/v1/score", content=b"{", headers=json_headers), 400, "bad_json")
    _error(client.post("/v1/score", content=b"not gzip", headers={**json_headers, "content-encoding": "gzip"}),
           400, "bad_encoding")
    _error(client.post("/v1/score", content=b"{}", headers={**json_headers, "content-encoding": "br"}),
           415, "unsupported_encoding")
    _error(client.post("/v1/score", content=b"x", headers={"content-type": "text/html"}), 415, "unsupported_media_type")
    _error(client.post("/v1/score", content=gzip.compress(b"word " * 60_000),
                       headers={"content-type": "text/plain", "content-encoding": "gzip"}), 413, "too_large")
    # batches: each bad item once; a batch refused as a whole once
    items = client.post("/v1/score/batch", json={"articles": [{"text": CLEAN}, {"text": ""}, {"text": 5}, "junk"]})
    assert [r.get("error", {}).get("code") for r in items.json()["results"]] == [None, "empty", "invalid", "invalid"]
    _error(client.post("/v1/score/batch", content=b"[", headers=json_headers), 400, "bad_json")
    _error(client.post("/v1/score/batch", json={"articles": [{"text": CLEAN}] * 9}), 422, "too_many_articles")
    # not documents: no route, wrong method, a scored article
    _error(client.post("/v1/nothing", json={"text": CLEAN}), 404, "not_found")
    _error(client.get("/v1/score"), 405, "method_not_allowed")
    assert client.post("/v1/score", json={"text": CLEAN}).status_code == 200

    after = counts()
    delta = {code: after[code] - before.get(code, 0.0) for code in after if after[code] != before.get(code, 0.0)}
    assert delta == {"empty": 2, "invalid": 4, "not_utf8": 1, "binary": 1, "bad_json": 2, "bad_encoding": 1,
                     "unsupported_encoding": 1, "unsupported_media_type": 1, "too_large": 1,
                     "too_many_articles": 1}, delta
    help_line = next(line for line in client.get("/metrics").text.splitlines()
                     if line.startswith("# HELP thresher_rejected_documents_total"))
    assert "401" in help_line and "not" in help_line


def test_an_answer_is_counted_before_the_client_has_it(client):
    """A static file's answer was counted after the app had closed the file: /metrics read right after
    it missed it about once in twenty (seen in CI)."""
    def served() -> float:
        return _metric(client.get("/metrics").text, "thresher_http_requests_total", route="/static", status="200")

    for _ in range(60):
        before = served()
        assert client.get("/static/app.js").status_code == 200
        assert served() == before + 1


def test_schema_and_docs_routes_are_labelled_and_need_no_cdn(client):
    before = client.get("/metrics").text
    # a file's answer is counted before its last bytes reach the client (it used to be counted after the
    # app closed the file, and a loaded machine then read /metrics too early)
    assert client.get("/static/app.js").status_code == 200
    schema = client.get("/openapi.json")
    assert schema.status_code == 200 and "/v1/score" in schema.json()["paths"]
    for path in ("/docs", "/redoc"):
        err = _error(client.get(path), 404, "not_found")
        assert "/openapi.json" in err["message"]
    _error(client.get("/docs/oauth2-redirect"), 404, "not_found")
    text = client.get("/metrics").text

    def delta(**labels: str) -> float:
        return _metric(text, "thresher_http_requests_total", **labels) - _metric(before, "thresher_http_requests_total", **labels)

    assert delta(route="/openapi.json", status="200") == 1
    assert delta(route="/docs", status="404") == 1
    assert delta(route="/redoc", status="404") == 1
    assert delta(route="/static", status="200") == 1
    assert delta(route="unmatched", status="404") == 1  # /docs/oauth2-redirect: there is no such route
    assert delta(route="unmatched", status="200") == 0
    # nothing the server sends points at the docs page or a CDN
    for path in ("/", "/static/app.js", "/openapi.json"):
        body = client.get(path).text
        assert '"/docs' not in body and "'/docs" not in body and "href=\"/docs" not in body, path
        assert "cdn." not in body, path


def test_each_route_declares_the_errors_it_can_answer(client):
    paths = client.get("/openapi.json").json()["paths"]
    declared = {(method.upper(), path): sorted(op["responses"]) for path, ops in paths.items() for method, op in ops.items()}
    scoring = ["200", "400", "413", "415", "422", "503"]  # no 401: this server has no API keys
    assert declared == {
        ("POST", "/v1/score"): scoring, ("POST", "/v1/score/batch"): scoring,
        ("GET", "/healthz"): ["200"], ("GET", "/readyz"): ["200", "503"], ("GET", "/metrics"): ["200"],
        # this server has an admin token: reload asks for it (401) and is never disabled (no 403)
        ("GET", "/v1/model"): ["200", "503"], ("POST", "/v1/model/reload"): ["200", "401", "409", "503"],
    }
    batch_error = paths["/v1/score/batch"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert batch_error  # ItemError (with its index) is part of the answer's schema
    assert "index" in client.get("/openapi.json").json()["components"]["schemas"]["ItemError"]["required"]


def test_scoring_does_not_stall_the_event_loop(live_server):
    """While a batch is being scored in the worker threads, /healthz still answers at once."""
    done = threading.Event()

    status = []

    def heavy():
        with live_server.client() as c:
            # Distinct texts (textstat's per-text cache cannot answer them), as large as the server's body limit
            # allows (8 x 28 KB): the batch must still be scoring when /healthz is asked.
            articles = [{"text": f"{SCRAPED * 24}\nUpdate number {i} of the story."} for i in range(8)]
            status.append(c.post("/v1/score/batch", json={"articles": articles}).status_code)
        done.set()

    t = threading.Thread(target=heavy)
    t.start()
    time.sleep(0.02)
    with live_server.client() as c:
        waits = []
        while not done.is_set():
            start = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            waits.append(time.perf_counter() - start)
            time.sleep(0.05)
    t.join()
    assert status == [200]
    assert waits, "the batch finished before /healthz was asked; make it bigger"
    assert max(waits) < 1.0, waits


# ------------------------------------------------------------------------------------------------ auth


def test_api_keys_guard_v1_but_not_health(tmp_path, shipped_model_dir):
    server = start_server(tmp_path, env={"THRESHER_MODEL_DIR": str(shipped_model_dir), "THRESHER_API_KEYS": "k1, k2"})
    try:
        with server.client() as c:
            resp = c.post("/v1/score", json={"text": CLEAN})
            _error(resp, 401, "unauthorized")
            assert resp.headers["www-authenticate"] == "Bearer"
            _error(c.post("/v1/score", json={"text": CLEAN}, headers={"authorization": "Bearer k3"}), 401, "unauthorized")
            assert c.post("/v1/score", json={"text": CLEAN}, headers={"authorization": "Bearer k2"}).status_code == 200
            assert c.get("/v1/model", headers={"authorization": "Bearer k1"}).status_code == 200
            _error(c.get("/v1/model"), 401, "unauthorized")
            _error(c.post("/v1/score", content=b"{", headers={"content-type": "application/json"}), 401, "unauthorized")
            # no document was read: an auth failure is not a rejected document
            assert "thresher_rejected_documents_total{" not in c.get("/metrics").text
            assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
            paths = c.get("/openapi.json").json()["paths"]
            assert "401" in paths["/v1/score"]["post"]["responses"] and "401" in paths["/v1/model"]["get"]["responses"]
            assert "401" not in paths["/healthz"]["get"]["responses"]
            # without an admin token reload answers 403 and nothing else: its entry says so, and no 401
            assert sorted(paths["/v1/model/reload"]["post"]["responses"]) == ["200", "403"]
            # No admin token on this server: reload is disabled, whatever the caller sends.
            _error(c.post("/v1/model/reload", headers={"authorization": "Bearer k1"}), 403, "reload_disabled")
    finally:
        stop_server(server)


def test_server_refuses_to_start_on_a_tampered_model(tmp_path, model_copy):
    (model_copy / "model.joblib").write_bytes(b"not a model")
    with pytest.raises(AssertionError, match="does not match its manifest"):
        start_server(tmp_path, env={"THRESHER_MODEL_DIR": str(model_copy)})


# ---------------------------------------------------------------------------------------------- reload


def _replace_model(dst, src) -> None:
    tmp = dst.parent / (dst.name + ".new")
    shutil.copytree(src, tmp)
    shutil.rmtree(dst)
    os.replace(tmp, dst)


def _wait_for_version(c: httpx.Client, version: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if c.get("/v1/model").json().get("version") == version:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"server did not switch to {version} in {timeout} s")


def test_reload_swaps_refuses_and_answers_sighup(tmp_path, shipped_model_dir, tiny_model_dir, admin_token):
    serving = tmp_path / "serving"
    shutil.copytree(shipped_model_dir, serving)
    shipped_version = json.loads((shipped_model_dir / "manifest.json").read_text())["version"]
    tiny_version = json.loads((tiny_model_dir / "manifest.json").read_text())["version"]
    assert shipped_version != tiny_version
    server = start_server(tmp_path, env={"THRESHER_MODEL_DIR": str(serving), "THRESHER_ADMIN_TOKEN": admin_token})
    auth = {"authorization": f"Bearer {admin_token}"}
    try:
        with server.client() as c:
            _error(c.post("/v1/model/reload"), 401, "unauthorized")
            _error(c.post("/v1/model/reload", headers={"authorization": "Bearer nope"}), 401, "unauthorized")

            # A retrained model in the folder: reload swaps it in without a restart.
            _replace_model(serving, tiny_model_dir)
            resp = c.post("/v1/model/reload", headers=auth)
            assert resp.status_code == 200, resp.text
            assert resp.json() | {"workers": "x"} == {"reloaded": True, "previous_version": shipped_version,
                                                      "version": tiny_version, "name": "tiny", "workers": "x"}
            assert c.get("/v1/model").json()["version"] == tiny_version
            assert c.post("/v1/score", json={"text": CLEAN}).json()["model"]["version"] == tiny_version
            metrics = c.get("/metrics").text
            assert _metric(metrics, "thresher_model_info", version=tiny_version) == 1
            assert _metric(metrics, "thresher_model_info", version=shipped_version) == 0

            # A tampered model is refused; the old one stays in service.
            (serving / "model.joblib").write_bytes(b"tampered")
            err = _error(c.post("/v1/model/reload", headers=auth), 409, "model_refused")
            assert "does not match its manifest" in err["message"]
            assert c.get("/v1/model").json()["version"] == tiny_version
            assert c.post("/v1/score", json={"text": CLEAN}).status_code == 200
            assert c.get("/readyz").status_code == 200

            # SIGHUP loads the folder again, too.
            _replace_model(serving, shipped_model_dir)
            os.kill(server.proc.pid, signal.SIGHUP)
            _wait_for_version(c, shipped_version)
            assert c.get("/healthz").status_code == 200
            assert server.proc.poll() is None
            text = c.get("/metrics").text
            assert _metric(text, "thresher_model_reloads_total", outcome="loaded") == 2
            assert _metric(text, "thresher_model_reloads_total", outcome="refused") == 1
    finally:
        stop_server(server)
    refusals = [line for line in server.log_text().splitlines() if "was refused" in line]
    assert len(refusals) == 1 and "POST /v1/model/reload" in refusals[0], refusals
    assert "does not match its manifest" in refusals[0]


def test_sighup_reloads_without_an_admin_token_and_logs_it(tmp_path, shipped_model_dir, tiny_model_dir):
    """SIGHUP is the operator's signal: the admin token guards the HTTP route only."""
    serving = tmp_path / "serving"
    shutil.copytree(shipped_model_dir, serving)
    tiny_version = json.loads((tiny_model_dir / "manifest.json").read_text())["version"]
    server = start_server(tmp_path, env={"THRESHER_MODEL_DIR": str(serving)})
    try:
        with server.client() as c:
            (serving / "model.joblib").write_bytes(b"tampered")
            os.kill(server.proc.pid, signal.SIGHUP)
            _wait_for_metric(c, "thresher_model_reloads_total", 1, outcome="refused")
            _replace_model(serving, tiny_model_dir)
            os.kill(server.proc.pid, signal.SIGHUP)
            _wait_for_version(c, tiny_version)
            _wait_for_metric(c, "thresher_model_reloads_total", 1, outcome="loaded")
            _error(c.post("/v1/model/reload"), 403, "reload_disabled")
    finally:
        stop_server(server)
    assert re.search(r"ERROR: +SIGHUP: the model in \S+ was refused, still serving .*does not match its manifest",
                     server.log_text()), server.log_text()[-3000:]


def _wait_for_metric(c: httpx.Client, metric: str, value: float, timeout: float = 180, **labels: str) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = c.get("/metrics").text
        if _metric(text, metric, **labels) == value:
            return text
        assert time.monotonic() < deadline, f"{metric}{labels} never {value}:\n{text}"
        time.sleep(0.25)


def test_requests_in_flight_finish_on_one_model(tmp_path, shipped_model_dir, tiny_model_dir, admin_token):
    """A batch takes the model once: while a reload swaps models, no batch mixes two versions."""
    serving = tmp_path / "serving"
    shutil.copytree(shipped_model_dir, serving)
    server = start_server(tmp_path, env={"THRESHER_MODEL_DIR": str(serving), "THRESHER_ADMIN_TOKEN": admin_token})
    try:
        _replace_model(serving, tiny_model_dir)
        reloaded = threading.Event()

        def reload():
            with server.client() as c:
                assert c.post("/v1/model/reload", headers={"authorization": f"Bearer {admin_token}"}).status_code == 200
            reloaded.set()

        with server.client() as c:

            def batch() -> str:
                results = c.post("/v1/score/batch", json={"articles": [{"text": SCRAPED}] * 6}).json()["results"]
                versions = {r["model"]["version"] for r in results}
                assert len(versions) == 1, versions  # one request, one model, even across the swap
                return versions.pop()

            seen = [batch()]  # before the reload: the old model
            t = threading.Thread(target=reload)
            t.start()
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                seen.append(batch())
                if reloaded.is_set() and seen[-1] != seen[0]:
                    break
            t.join(timeout=60)
        assert seen[0] != seen[-1], "every batch ran on one model: the reload did not take effect"
    finally:
        stop_server(server)


# ----------------------------------------------------------------------------------------- two workers


def test_two_workers_share_metrics_and_reload_together(tmp_path, shipped_model_dir, tiny_model_dir, admin_token):
    serving = tmp_path / "serving"
    shutil.copytree(shipped_model_dir, serving)
    server = start_server(tmp_path, workers=2,
                          env={"THRESHER_MODEL_DIR": str(serving), "THRESHER_ADMIN_TOKEN": admin_token})
    tiny_version = json.loads((tiny_model_dir / "manifest.json").read_text())["version"]
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            for _ in range(12):  # new connections: the kernel spreads them over both workers
                with httpx.Client(base_url=server.url, timeout=60) as one:
                    assert one.get("/healthz").status_code == 200
            text = c.get("/metrics").text
            assert _metric(text, "thresher_http_requests_total", route="/healthz", status="200") == 12
            shipped_version = json.loads((shipped_model_dir / "manifest.json").read_text())["version"]
            # /readyz answered once one worker was ready; the other may still be loading its model.
            deadline = time.monotonic() + 180
            while _metric(text, "thresher_model_workers", version=shipped_version) < 2:
                assert time.monotonic() < deadline, text
                time.sleep(0.5)
                text = c.get("/metrics").text
            # the workers are added up: no pid label, and the info gauge is 1 as with one worker
            assert "pid=" not in text, [line for line in text.splitlines() if "pid=" in line]
            assert _metric(text, "thresher_model_workers", version=shipped_version) == 2
            assert _metric(text, "thresher_model_info", version=shipped_version) == 1
            assert len(re.findall(r"^thresher_model_info\{", text, re.M)) == 1, text

            _replace_model(serving, tiny_model_dir)
            auth = {"authorization": f"Bearer {admin_token}"}
            resp = c.post("/v1/model/reload", headers=auth)
            assert resp.status_code == 200 and resp.json()["workers"] == "restarting", resp.text
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:  # until a dozen fresh connections all see the new model
                versions = set()
                for _ in range(12):
                    with httpx.Client(base_url=server.url, timeout=60) as one:
                        try:
                            versions.add(one.get("/v1/model").json()["version"])
                        except httpx.HTTPError:
                            versions.add("unreachable")
                if versions == {tiny_version}:
                    break
                time.sleep(1)
            assert versions == {tiny_version}, versions
            deadline = time.monotonic() + 60  # the replaced workers' gauges go with them
            while True:
                text = c.get("/metrics").text
                now = (_metric(text, "thresher_model_info", version=tiny_version),
                       _metric(text, "thresher_model_workers", version=tiny_version),
                       _metric(text, "thresher_model_info", version=shipped_version),
                       _metric(text, "thresher_model_workers", version=shipped_version))
                if now == (1, 2, 0, 0) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert now == (1, 2, 0, 0), text
            assert "pid=" not in text
            # the supervisor counted the reload, once, when every worker served the new model
            text = _wait_for_metric(c, "thresher_model_reloads_total", 1, outcome="loaded")
            assert _metric(text, "thresher_model_reloads_total", outcome="refused") == 0

            # A bad model is refused up front, by the worker that answers (409) and by the supervisor on SIGHUP
            # (whatever the admin token): no worker is replaced.
            (serving / "model.joblib").write_bytes(b"tampered")
            _error(c.post("/v1/model/reload", headers=auth), 409, "model_refused")
            os.kill(server.proc.pid, signal.SIGHUP)
            text = _wait_for_metric(c, "thresher_model_reloads_total", 2, outcome="refused")
            assert _metric(text, "thresher_model_workers", version=tiny_version) == 2
            assert _metric(text, "thresher_model_workers", version=shipped_version) == 0
            log = server.log_text()
            assert re.search(r"SIGHUP: the model in \S+ was refused; no worker was replaced, all 2 still serve tiny "
                             r".*does not match its manifest", log), log[-3000:]
            assert str(serving) in log and "thresher-models-" not in log  # the folder is named, not the copy

            # The folder is made bad while the workers are replaced: they load the supervisor's verified copy.
            _replace_model(serving, shipped_model_dir)
            assert c.post("/v1/model/reload", headers=auth).status_code == 200
            deadline = time.monotonic() + 180
            while _metric(c.get("/metrics").text, "thresher_model_workers", version=shipped_version) < 1:
                assert time.monotonic() < deadline, "no worker was replaced"
                time.sleep(0.1)
            (serving / "model.joblib").write_bytes(b"tampered again")
            text = _wait_for_metric(c, "thresher_model_reloads_total", 2, outcome="loaded")
            assert _metric(text, "thresher_model_reloads_total", outcome="refused") == 2
            text = _wait_for_metric(c, "thresher_model_workers", 0, version=tiny_version, timeout=60)
            assert _metric(text, "thresher_model_workers", version=shipped_version) == 2
            assert "exited with code" not in server.log_text() and "not ready" not in server.log_text()
    finally:
        stop_server(server)
