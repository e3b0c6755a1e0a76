"""The editor's web API: every route, each kind of bad request, sessions, saving inside the folder."""
import json
import os
import threading

import pytest
import torch

pytest.importorskip("starlette")
pytest.importorskip("httpx")
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")
from starlette.testclient import TestClient

from sgkit.data import load_sg2im_json
from sgkit.datasets import ShapesWorld
from sgkit.editor import create_app
from sgkit.models import SIMSG, SIMSGConfig


@pytest.fixture(scope="module")
def world():
    return ShapesWorld(3, image_size=32, progress=False, seed=1)


@pytest.fixture(scope="module")
def model(world):
    cfg = SIMSGConfig.preset("crn-32-shapes", world.num_classes, world.num_predicates)
    return SIMSG(cfg, vocab=world.vocab, seed=0).eval()


@pytest.fixture()
def client(model, world, tmp_path):
    app = create_app(model, [world[i] for i in range(len(world))], world.vocab, tmp_path / "out")
    with TestClient(app) as c:
        yield c


def _new(client):
    r = client.post("/api/session")
    assert r.status_code == 200
    return r.json()


def _post(client, op, sid, **body):
    return client.post(f"/api/{op}", json={"sid": sid, **body})


def test_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and "Generate" in page.text and "/static/editor.js" in page.text
    for name in ("editor.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/static/../app.py").status_code == 404


def test_session_state_matches_the_scene(client, world):
    data = _new(client)
    st = data["state"]
    g = world[0]
    names = [world.vocab.decode_object(int(c)) for c in g["object"].label]
    assert [n["name"] for n in st["nodes"]] == names
    assert len(st["edges"]) == g["object", "relation", "object"].label.numel()
    assert st["image"].startswith("data:image/png;base64,") and st["image_size"] == 32
    assert not st["pending"] and not st["can_undo"] and st["region"] is None
    assert st["sampling"] is False  # SIMSG draws one image per edit: no "Sample again"
    again = _post(client, "state", data["sid"]).json()["state"]
    assert again["nodes"] == st["nodes"]


def test_each_edit_changes_the_graph(client, world):
    sid = _new(client)["sid"]
    st0 = _post(client, "state", sid).json()["state"]
    n0, e0 = len(st0["nodes"]), len(st0["edges"])
    st = _post(client, "replace", sid, node=0, category="blue circle large" if "blue circle large" in st0["categories"]
               else st0["categories"][-1]).json()["state"]
    assert st["nodes"][0]["status"] == "replaced" and st["pending"]
    pred = st0["predicates"][(st0["predicates"].index(st0["edges"][0]["predicate"]) + 1) % len(st0["predicates"])]
    st = _post(client, "predicate", sid, edge=0, predicate=pred).json()["state"]
    assert st["edges"][0]["predicate"] == pred
    st = _post(client, "add", sid, category=st0["categories"][0], anchor=1, predicate=st0["predicates"][0],
               as_subject=False).json()["state"]
    assert len(st["nodes"]) == n0 + 1 and st["nodes"][-1]["status"] == "added" and st["nodes"][-1]["box"] is None
    assert st["edges"][-1] == {"id": e0, "subject": 1, "object": n0, "predicate": st0["predicates"][0]}
    removed = st["nodes"][1]["name"]
    st = _post(client, "remove", sid, node=1).json()["state"]
    assert len(st["nodes"]) == n0 and [r["name"] for r in st["removed"]] == [removed]
    touching = sum(1 for e in st0["edges"] if 1 in (e["subject"], e["object"]))
    assert len(st["edges"]) == e0 + 1 - touching - 1  # the added edge hung on node 1 too
    for _ in range(4):
        st = _post(client, "undo", sid).json()["state"]
    assert st["nodes"] == st0["nodes"] and st["edges"] == st0["edges"] and not st["can_undo"]


@pytest.mark.parametrize("op, body, message", [
    ("remove", {"node": 99}, "node: unknown node 99"),
    ("remove", {"node": "0"}, "node: unknown node '0'"),
    ("replace", {"node": 0, "category": "unicorn"}, "category: unknown category 'unicorn'"),
    ("replace", {"node": -1, "category": "unicorn"}, "node: unknown node -1"),
    ("predicate", {"edge": 0, "predicate": "eats"}, "predicate: unknown predicate 'eats'"),
    ("predicate", {"edge": 500, "predicate": "eats"}, "edge: unknown edge 500"),
    ("add", {"category": "x", "anchor": 0, "predicate": "left of"}, "category: unknown category 'x'"),
    ("add", {"anchor": 42}, "category: unknown category None"),
    ("undo", {}, "undo: nothing to undo"),
    ("sample", {}, "sample: SIMSG draws one image per edit"),
    ("save", {"name": "../escape"}, "name: expected 1-64 letters"),
])
def test_bad_requests_are_refused_and_change_nothing(client, op, body, message):
    sid = _new(client)["sid"]
    before = _post(client, "state", sid).json()["state"]
    r = _post(client, op, sid, **body)
    assert r.status_code == 400 and r.json()["error"].startswith(message), r.json()
    after = _post(client, "state", sid).json()["state"]
    assert after == before


def test_unknown_session_and_bad_bodies(client):
    r = _post(client, "state", "nope")
    assert r.status_code == 400 and "session: unknown or expired session 'nope'" in r.json()["error"]
    r = client.post("/api/state", content=b"{not json")
    assert r.status_code == 400 and r.json()["error"] == "request body: not valid JSON"
    r = client.post("/api/state", json=[1, 2])
    assert r.status_code == 400 and r.json()["error"] == "request body: expected a JSON object"
    assert client.get("/api/state").status_code == 405


def test_generate_changes_only_the_edited_region_then_undo(client, model, world):
    sid = _new(client)["sid"]
    st0 = _post(client, "state", sid).json()["state"]
    _post(client, "remove", sid, node=0)
    r = _post(client, "generate", sid)
    st = r.json()["state"]
    assert st["generated"] and st["region"].startswith("data:image/png") and not st["pending"]
    from sgkit.data import remove_node

    # the same call through the library gives the same picture
    from sgkit.editor.app import _png

    g = world[0]
    out = model.manipulate(g, remove_node(g, 0), composite=True, seed=0)
    import base64
    import io

    from PIL import Image

    def pixels(url):
        return torch.from_numpy(__import__("numpy").array(Image.open(io.BytesIO(base64.b64decode(url.split(",")[1])))))

    got, src = pixels(st["image"]), pixels(st0["image"])
    expect = pixels("x," + base64.b64encode(_png(out.image[0])).decode())
    assert torch.equal(got, expect)
    region = out.region[0]
    assert torch.equal(got[~region], src[~region])  # outside the edited region nothing moved
    assert (got[region] != src[region]).any()
    x0, y0, x1, y1 = st["region_box"]
    ys, xs = region.nonzero(as_tuple=True)
    assert (x0, y0, x1, y1) == (xs.min() / 32, ys.min() / 32, (xs.max() + 1) / 32, (ys.max() + 1) / 32)
    assert len(st["nodes"]) == len(st0["nodes"]) - 1 and st["removed"] == []
    back = _post(client, "undo", sid).json()["state"]
    assert back["image"] == st0["image"] and len(back["removed"]) == 1 and back["pending"]
    assert _post(client, "generate", sid).json()["state"]["image"] == st["image"]  # same seed, same picture


def test_generate_without_edits_and_next_image(client, world):
    sid = _new(client)["sid"]
    st = _post(client, "next", sid).json()["state"]
    assert st["scene"] == 1 and len(st["nodes"]) == world[1]["object"].label.numel()
    _post(client, "next", sid)
    assert _post(client, "next", sid).json()["state"]["scene"] == 0  # wraps around
    assert _post(client, "undo", sid).json()["state"]["scene"] == 2


def test_save_writes_png_and_sg2im_json_inside_the_folder(client, world, tmp_path):
    sid = _new(client)["sid"]
    _post(client, "remove", sid, node=0)
    r = _post(client, "save", sid, name="my-edit_1")
    assert r.status_code == 200 and r.json()["saved"] == ["my-edit_1.png", "my-edit_1.json"]
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == ["my-edit_1.json", "my-edit_1.png"]
    graphs, _ = load_sg2im_json(out / "my-edit_1.json", world.vocab)
    g = world[0]
    assert graphs[0]["object"].label.tolist() == g["object"].label.tolist()[1:]
    from PIL import Image

    assert Image.open(out / "my-edit_1.png").size == (32, 32)
    for bad in ("../x", "/etc/passwd", "a/b", "..", "", "x" * 65, "a.png", 5, None, "a\x00b"):
        r = _post(client, "save", sid, name=bad)
        assert r.status_code == 400 and r.json()["error"].startswith("name: "), bad
    assert sorted(os.listdir(out)) == ["my-edit_1.json", "my-edit_1.png"]
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_sessions_are_independent_and_concurrent(client):
    sids = [_new(client)["sid"] for _ in range(4)]
    errors = []

    def work(k, sid):
        try:
            for _ in range(3):
                assert _post(client, "remove", sid, node=0).status_code == 200
            assert _post(client, "generate", sid).status_code == 200
        except AssertionError as exc:  # pragma: no cover - reported below
            errors.append((k, exc))

    threads = [threading.Thread(target=work, args=(k, s)) for k, s in enumerate(sids[:3])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for s in sids[:3]:
        st = _post(client, "state", s).json()["state"]
        assert st["generated"] and len(_post(client, "state", s).json()["state"]["nodes"]) >= 1
    untouched = _post(client, "state", sids[3]).json()["state"]
    assert not untouched["can_undo"] and not untouched["generated"]


def test_sessions_are_bounded(model, world, tmp_path):
    app = create_app(model, [world[0]], world.vocab, tmp_path, max_sessions=2)
    with TestClient(app) as c:
        a, b, d = (_new(c)["sid"] for _ in range(3))
        assert len(app.state.store) == 2
        assert _post(c, "state", a).status_code == 400  # the oldest went first
        assert _post(c, "state", b).status_code == 200 and _post(c, "state", d).status_code == 200
    one = _new_store_bytes(model, world, tmp_path)
    app = create_app(model, [world[0]], world.vocab, tmp_path, max_bytes=one * 2 + 1)
    with TestClient(app) as c:
        sid = _new(c)["sid"]
        for _ in range(6):
            _post(c, "next", sid)
        assert app.state.store.nbytes() <= one * 2 + 1
        assert len(app.state.store.get(sid).history) <= 2


def _new_store_bytes(model, world, tmp_path):
    app = create_app(model, [world[0]], world.vocab, tmp_path)
    with TestClient(app) as c:
        _new(c)
        return app.state.store.nbytes()


def test_sampling_button_follows_the_model(world, tmp_path, model):
    class Sampler:
        config = model.config

        def __init__(self):
            self.seeds = []

        def manipulate(self, source, edited, *, composite=True, seed=0, num_samples=1):
            self.seeds.append(seed)
            return model.manipulate(source, edited, composite=composite, seed=seed)

    sampler = Sampler()
    app = create_app(sampler, [world[0]], world.vocab, tmp_path)
    with TestClient(app) as c:
        data = _new(c)
        sid = data["sid"]
        assert data["state"]["sampling"] and not data["state"]["can_sample"]
        assert _post(c, "sample", sid).json()["error"] == "sample: generate an edit first"
        _post(c, "remove", sid, node=0)
        first = _post(c, "generate", sid).json()["state"]
        assert first["can_sample"]
        second = _post(c, "sample", sid).json()["state"]
        assert sampler.seeds == [0, 1] and second["image"] != first["image"]
        n_hist = len(app.state.store.get(sid).history)
        back = _post(c, "undo", sid).json()["state"]
        assert back["image"] == first["image"] and n_hist == 4


def test_missing_vocabulary_and_scenes(model, world, tmp_path):
    with pytest.raises(ValueError, match="vocab: the editor needs"):
        create_app(model, [world[0]], None, tmp_path)
    with pytest.raises(ValueError, match="scenes: the editor needs at least one scene"):
        create_app(model, [], world.vocab, tmp_path)


def test_require_names_the_extra(monkeypatch):
    import sgkit._imports as imports

    monkeypatch.setattr(imports, "WITH_STARLETTE", False)
    with pytest.raises(ImportError, match=r"graphkits\[editor\]"):
        imports.require("WITH_STARLETTE", "the scene-graph editor")
    assert json.dumps(imports._EXTRA_OF["WITH_UVICORN"]) == '["uvicorn", "editor"]'
