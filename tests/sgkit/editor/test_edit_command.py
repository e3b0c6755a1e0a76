"""``sgkit edit``: checkpoint and data loading, argument errors, and a served page on 127.0.0.1."""
import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest
import torch

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from sgkit.cli import main
from sgkit.commands.edit import load_model, load_scenes
from sgkit.datasets import ShapesWorld
from sgkit.models import SIMSG, SG2Im, SG2ImConfig, SIMSGConfig


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    world = ShapesWorld(0, image_size=32, progress=False)
    model = SIMSG(SIMSGConfig.preset("crn-32-shapes", world.num_classes, world.num_predicates), vocab=world.vocab, seed=0)
    path = tmp_path_factory.mktemp("ckpt") / "simsg.pt"
    model.save(path)
    return path


def test_load_model_picks_the_class_of_the_checkpoint(checkpoint, tmp_path):
    model = load_model(str(checkpoint))
    assert type(model).__name__ == "SIMSG" and not model.training
    other = SG2Im(SG2ImConfig.preset("crn-small", 4, 2), seed=0)
    other.save(tmp_path / "sg2im.pt")
    with pytest.raises(ValueError, match=r"--checkpoint: .*sg2im\.pt' holds a SG2Im model, which cannot edit images"):
        load_model(str(tmp_path / "sg2im.pt"))


def test_load_scenes_from_shapes_and_a_folder(checkpoint, tmp_path):
    model = load_model(str(checkpoint))
    scenes, vocab = load_scenes("shapes", model, num=3)
    assert len(scenes) == 3 and scenes[0].image.shape == (3, 32, 32) and vocab is model.vocab
    from PIL import Image

    Image.new("RGB", (40, 40), (255, 0, 0)).save(tmp_path / "a.png")
    names = model.vocab.objects
    raw = [{"objects": [names[0], names[1]], "relationships": [[0, model.vocab.predicates[0], 1]],
            "boxes": [[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]], "image": "a.png"}]
    (tmp_path / "scenes.json").write_text(json.dumps(raw))
    scenes, _ = load_scenes(str(tmp_path), model)
    assert scenes[0].image.shape == (3, 32, 32) and torch.allclose(scenes[0].image[0], torch.ones(32, 32))
    raw[0]["image"] = "../a.png"
    (tmp_path / "scenes.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=r"scenes.json\[0\]\.image: '\.\./a\.png' lies outside the folder"):
        load_scenes(str(tmp_path), model)
    os.makedirs(tmp_path / "sub")
    with pytest.raises(FileNotFoundError, match="the folder .*sub' has no scenes.json"):
        load_scenes(str(tmp_path / "sub"), model)
    with pytest.raises(ValueError, match="--data: expected 'shapes' or a folder, got 'nowhere'"):
        load_scenes("nowhere", model)


def test_bad_arguments_exit_2(checkpoint, tmp_path, capsys):
    assert main(["edit", "--checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt" in capsys.readouterr().err
    assert main(["edit", "--checkpoint", str(checkpoint), "--port", "70000"]) == 2
    assert "--port: expected 0..65535, got 70000" in capsys.readouterr().err


def test_serves_the_page_on_localhost(checkpoint, tmp_path):
    code = "import sys; from sgkit.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "edit", "--checkpoint", str(checkpoint), "--port", "0", "--num-scenes", "2",
         "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=os.getcwd(), env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        url = None
        for _ in range(5):
            line = proc.stdout.readline()
            m = re.search(r"open (http://\S+)", line)
            if m:
                url = m.group(1)
                break
        assert url is not None and url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.poll() else url
        page = urllib.request.urlopen(url, timeout=30).read().decode()
        assert "Scene-graph image editor" in page
        req = urllib.request.Request(url + "api/session", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
        state = json.loads(urllib.request.urlopen(req, timeout=60).read())["state"]
        assert state["num_scenes"] == 2 and state["model"] == "SIMSG"
        assert os.path.isdir(tmp_path / "out")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
