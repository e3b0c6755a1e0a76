"""The shared input checks: ids (never truncated), graph lists, counts and JSON files."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sgkit.data import as_graph_list, from_triplets
from sgkit.data._checks import as_index_tensor, check_max_graphs, read_json

BAD_IDS = [
    ([0, 1.7], r"ids\[1\]: expected an integer id, got 1\.7 \(non-integral values are never truncated\)"),
    ([3.7], r"ids\[0\]: expected an integer id, got 3\.7"),
    ([float("nan")], r"ids\[0\]: expected an integer id, got nan"),
    ([float("inf")], r"ids\[0\]: expected an integer id, got inf"),
    ([-float("inf")], r"ids\[0\]: expected an integer id, got -inf"),
    ([16777217.0], r"ids\[0\]: expected an integer id, got the float 16777217\.0; floats above 16777216"),
    ([1e19], r"ids\[0\]: expected an integer id, got the float 1e\+19"),
    ([np.float32(2**25)], r"ids\[0\]: .*float 33554432\.0"),
    (torch.tensor([1.0, 4096.0], dtype=torch.float16), r"ids\[1\]: .*float 4096\.0; floats above 2048"),
    (torch.tensor([512.0], dtype=torch.bfloat16), r"ids\[0\]: .*float 512\.0; floats above 256"),
    (torch.tensor([[0.0, 2.5]]), r"ids\[0\]\[1\]: expected an integer id, got 2\.5"),
    (np.array([0.0, np.nan]), r"ids\[1\]: expected an integer id, got nan"),
    ([True, 1], r"ids\[0\]: expected an integer id, got the bool True"),
    ([np.bool_(False)], r"ids\[0\]: expected an integer id, got the bool False"),
    (torch.tensor([True]), r"ids: expected integer ids, got a tensor of dtype torch\.bool"),
    (np.array([True]), r"ids: expected integer ids, got a tensor of dtype torch\.bool"),
    (torch.tensor([1 + 2j]), r"ids: expected integer ids, got a tensor of dtype torch\.complex"),
    (["man"], r"ids\[0\]: expected an integer id, got the name 'man'; encode names with Vocabulary\.encode"),
    ([None], r"ids\[0\]: expected an integer id, got NoneType None"),
    ([{"a": 1}], r"ids\[0\]: expected an integer id, got dict"),
    ([2**63], r"ids\[0\]: id 9223372036854775808 does not fit in a 64-bit integer"),
    ([0, -(2**63) - 1], r"ids\[1\]: id -9223372036854775809 does not fit in a 64-bit integer"),
    (np.array([1, 2**63], dtype=np.uint64), r"ids\[1\]: id 9223372036854775808 does not fit"),
    ([[0, 1], [2]], r"ids: rows of different lengths"),
]


@pytest.mark.parametrize("value, match", BAD_IDS)
def test_bad_ids_are_rejected_naming_position_and_value(value, match):
    with pytest.raises(ValueError, match=match):
        as_index_tensor(value, "ids")


@pytest.mark.parametrize(
    "value, expected",
    [
        ([3.0, 0.0], [3, 0]),
        ([16777216.0], [16777216]),
        ([np.float32(5.0)], [5]),
        (torch.tensor([2.0, 7.0]), [2, 7]),
        (np.array([1, 2], dtype=np.uint64), [1, 2]),
        ([2**63 - 1, -(2**63)], [2**63 - 1, -(2**63)]),
        ([torch.tensor(4), np.int16(2)], [4, 2]),
        ([], []),
    ],
)
def test_integer_valued_ids_are_accepted_exactly(value, expected):
    out = as_index_tensor(value, "ids")
    assert out.dtype == torch.long and out.tolist() == expected


_SCALARS = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_SCALARS, max_size=6))
def test_ids_property_exact_value_or_error_naming_the_item(values):
    """Any list of scalars: the exact integers, or a ValueError naming ``ids[k]`` of a bad item."""
    def ok(v):
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return False
        if isinstance(v, float):
            return v == v and abs(v) <= 2**24 and float(v).is_integer()
        return -(2**63) <= v < 2**63

    try:
        out = as_index_tensor(values, "ids")
    except ValueError as exc:
        m = re.match(r"ids\[(\d+)\]: ", str(exc))
        assert m is not None, str(exc)
        assert not ok(values[int(m.group(1))])
        return
    assert all(ok(v) for v in values)
    assert out.tolist() == [int(v) for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), min_size=1, max_size=6))
def test_float_tensor_ids_property_never_truncated(values):
    t = torch.tensor(values, dtype=torch.float32)
    try:
        out = as_index_tensor(t, "ids")
    except ValueError as exc:
        k = int(re.match(r"ids\[(\d+)\]: ", str(exc)).group(1))
        v = float(t[k])
        assert not (v == v and abs(v) <= 2**24 and v.is_integer())
        return
    assert torch.equal(out.double(), t.double())


# --------------------------------------------------------------------------- graph lists, counts
G = from_triplets([0], [])


@pytest.mark.parametrize(
    "value, match",
    [
        (G, r"graphs: expected a list of scene graphs, got a single SceneGraph; wrap it in a list: \[graph\]"),
        (torch.zeros(3), r"graphs: expected a list of scene graphs, got Tensor"),
        ("abc", r"graphs: expected a list of scene graphs, got str"),
        (5, r"graphs: expected a list of scene graphs, got int"),
        ([G, 3], r"graphs\[1\]: expected a torch_geometric HeteroData scene graph, got int"),
    ],
)
def test_as_graph_list_errors(value, match):
    with pytest.raises(ValueError, match=match):
        as_graph_list(value)


def test_as_graph_list_accepts_iterables_and_can_refuse_empty():
    assert as_graph_list((g for g in [G, G])) == [G, G]
    with pytest.raises(ValueError, match=r"graphs: expected at least one scene graph, got an empty list"):
        as_graph_list([], allow_empty=False)


@pytest.mark.parametrize("value", [-1, -5, 1.5, True, "3", np.float64(2.0)])
def test_max_graphs_rejects_negative_and_non_integers(value):
    with pytest.raises(ValueError, match=r"max_graphs: expected None \(all graphs\) or an int >= 0, got "):
        check_max_graphs(value)


def test_max_graphs_accepts_none_zero_and_counts():
    assert check_max_graphs(None) is None
    assert check_max_graphs(0) == 0 and check_max_graphs(np.int64(3)) == 3


# --------------------------------------------------------------------------- JSON files
@pytest.mark.parametrize(
    "content, match",
    [
        (b"", r"empty file, expected JSON"),
        (b"  \n\t ", r"empty file, expected JSON"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", r"not a UTF-8 JSON file \(binary content at byte"),
        (b"[{\"objects\": [", r"malformed JSON at line 1 column 15: Expecting value"),
        (b"{'objects': []}", r"malformed JSON at line 1 column 2"),
        (b"[1, 2,]", r"malformed JSON"),
        (b"[" * 100000, r"(malformed JSON|JSON nested too deeply)"),
    ],
)
def test_read_json_errors_name_the_file(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ": " + match):
        read_json(path)


def test_read_json_missing_directory_and_bom(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        read_json(tmp_path / "missing.json")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path)) + ": is a directory"):
        read_json(tmp_path)
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"a": [1]}).encode())
    assert read_json(path) == {"a": [1]}


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=40))
def test_read_json_property_parsed_value_or_error_naming_the_file(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("j") / "f.json"
    path.write_bytes(content)
    try:
        value = read_json(path)
    except ValueError as exc:
        assert str(exc).startswith(str(path) + ": ")
        return
    assert value == json.loads(content.decode("utf-8-sig"))
