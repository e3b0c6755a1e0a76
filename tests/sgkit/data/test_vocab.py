import json

import pytest

from sgkit.data import Vocabulary


def test_encode_decode_and_unknown_names():
    v = Vocabulary(["sky", "man", "horse"], ["riding", "above"], ["white"])
    assert v.encode_object("horse") == 2 and v.decode_object(2) == "horse"
    assert v.encode_predicate("above") == 1 and v.decode_predicate(0) == "riding"
    assert v.encode_attribute("white") == 0
    assert v.encode(["man", "sky"], ["riding"]) == ([1, 0], [0])
    assert v.decode([0, 2], [1]) == (["sky", "horse"], ["above"])
    with pytest.raises(KeyError, match="unknown object name 'cloud'"):
        v.encode_object("cloud")
    with pytest.raises(KeyError, match="unknown predicate name 'eating'"):
        v.encode_predicate("eating")
    assert v.encode_object("guy", mapping={"guy": "man"}) == 1
    assert v.encode_object("cloud", on_unknown="add") == 3 and v.num_objects == 4
    with pytest.raises(KeyError, match=r"object id 9 out of range \[0, 4\)"):
        v.decode_object(9)
    with pytest.raises(ValueError, match="on_unknown: expected 'error' or 'add', got 'skip'"):
        v.encode_object("tree", on_unknown="skip")


def test_duplicates_ranks_and_dict_round_trip():
    with pytest.raises(ValueError, match="object: duplicate name 'a'"):
        Vocabulary(["a", "a"], [])
    with pytest.raises(ValueError, match="object_ranks: has 1 entries but there are 2 objects"):
        Vocabulary(["a", "b"], [], object_ranks=[0])
    v = Vocabulary(["a", "b"], ["p"], object_ranks=[0, 2])
    assert v.object_ranks == [0, 2]
    assert Vocabulary(["a"], []).object_ranks == [0]
    w = Vocabulary.from_dict(json.loads(json.dumps(v.to_dict())))
    assert w == v and w.object_ranks == [0, 2]
    assert Vocabulary.from_names(["b", "a", "b"], ["p", "p"]).objects == ["b", "a"]


def test_vg150_dict_file(shared_data):
    path = shared_data / "vg150" / "VG-SGG-dicts-with-attri.json"
    v = Vocabulary.from_vg_sgg_dicts(path)
    raw = json.loads(path.read_text())
    assert (v.num_objects, v.num_predicates, v.num_attributes) == (150, 50, 200)
    # 1-based file ids become 0-based ids
    assert v.decode_object(0) == raw["idx_to_label"]["1"]
    assert v.encode_predicate(raw["idx_to_predicate"]["50"]) == 49
    assert v.encode_object("man") == raw["label_to_idx"]["man"] - 1
    with pytest.raises(ValueError, match="idx_to_label: missing"):
        Vocabulary.from_vg_sgg_dicts({"idx_to_predicate": {}})


def test_sg2im_vocab_format(tmp_path):
    d = {"object_idx_to_name": ["__image__", "cat", None, "dog"], "pred_idx_to_name": ["__in_image__", "left of"]}
    p = tmp_path / "vocab.json"
    p.write_text(json.dumps(d))
    v = Vocabulary.from_sg2im_vocab(p)
    assert v.encode_object("dog") == 3 and v.encode_predicate("left of") == 1
    with pytest.raises(ValueError, match="pred_idx_to_name: missing"):
        Vocabulary.from_sg2im_vocab({"object_idx_to_name": []})


def test_unknown_name_error_names_the_fix_and_is_a_key_error():
    from sgkit.data import UnknownNameError

    v = Vocabulary(["sky"], ["above"])
    with pytest.raises(UnknownNameError) as info:
        v.encode_object("man")
    assert isinstance(info.value, KeyError)
    assert str(info.value) == (
        "unknown object name 'man' (not among the vocabulary's 1 object names); pass on_unknown=\"add\" to grow "
        "the vocabulary"
    )
    with pytest.raises(KeyError, match="unknown predicate name 'on'.*on_unknown=\"add\""):
        v.encode_predicate("on")


@pytest.mark.parametrize("bad", [1.0, 0.5, "0", None, True])
def test_decode_rejects_non_integer_ids(bad):
    v = Vocabulary(["sky", "man"], ["above"])
    with pytest.raises(ValueError, match=r"object id: expected an integer, got "):
        v.decode_object(bad)
