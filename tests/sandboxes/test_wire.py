"""The data-only wire: exact round trips of plain values, and what must never cross as data."""

from __future__ import annotations

import json
import math
import os

import pytest

from exectune_rl.sandboxes import _wire


def _through(value, side="program"):
    enc = _wire.Codec(side, handle_of=lambda obj: (_ for _ in ()).throw(_wire.WireError("no handles")))
    raw = enc.encode(value, allow_handle=False)
    text = json.dumps(raw)  # what the frame carries
    return _wire.Codec("judge", make_handle=lambda *a: a).decode(json.loads(text)), enc.items


@pytest.mark.parametrize("value", [
    [1, 2, 3], ["a", "", "ü"], [True, False, None], [0.5, -0.0, 1e300], [],
    [1 << 70, 2], [float("inf"), 1.0], [1, [2, [3]]], [(1, 2), {3}, {"k": 4}], [b"x", bytearray(b"y")],
])
def test_lists_round_trip_exactly(value):
    out, _ = _through(value)
    assert out == value
    assert [type(x) for x in out] == [type(x) for x in value]


def test_nan_in_a_list_comes_back_as_nan():
    out, _ = _through([float("nan"), 1])
    assert math.isnan(out[0]) and out[1] == 1


def test_a_subclass_inside_a_list_never_crosses_as_data():
    class Sneaky(int):
        def __eq__(self, other):
            return True

    with pytest.raises(_wire.WireError):
        _through([1, Sneaky(2)])
    with pytest.raises(_wire.WireError):
        _through([1, type("S", (str,), {})("x")])


def test_element_counts_and_limits_hold_for_flat_lists(monkeypatch):
    _, items = _through(list(range(1000)))
    assert items == 1001  # the list and each element, as the manifest's size rule expects
    monkeypatch.setattr(_wire, "MAX_ITEMS", 100)
    with pytest.raises(_wire.WireError, match="more than 100 elements"):
        _through(list(range(500)))


def test_a_frame_that_is_not_ascii_json_is_a_wire_error_not_a_crash():
    r, w = os.pipe()
    try:
        body = '["ret", 1, "\u00fc"]'.encode("utf-8")  # the encoder never writes this: refused
        os.write(w, _wire._HEAD.pack(len(body)) + body)
        with pytest.raises(_wire.WireError):
            _wire.Reader(r).read()
        _wire.write_message(w, ["ret", 2, "\u00fc"])  # escaped by the encoder: fine
        assert _wire.Reader(r).read() == ["ret", 2, "\u00fc"]
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.parametrize("raw", [
    {"n": ["|S2000000000", [1], ["a"]]},     # one 2 GB string, named in a 40-byte message
    {"n": ["<U900000000", [1], ["a"]]},
    {"n": ["not a dtype", [1], [1]]},
    {"n": ["<i8", [1] * 40, [1]]},
    {"n": ["<i8", [2], ["x", "y"]]},
])
def test_an_array_the_sender_describes_is_never_built_past_the_wire_limits(raw):
    pytest.importorskip("numpy")
    with pytest.raises(_wire.WireError):
        _wire.Codec("judge", make_handle=lambda *a: a).decode(raw)


def test_aliasing_and_cycles_survive_the_crossing():
    row = [0, 0]
    shared = {"k": row}
    loop: list = [1]
    loop.append(loop)
    value = [[row, row], shared, shared, loop, bytearray(b"x")]
    out, _ = _through(value)
    assert out[0][0] is out[0][1] and out[0][0] is out[1]["k"] and out[1] is out[2]
    assert out[3][1] is out[3] and out[3][0] == 1
    out[0][0].append(9)
    assert out[1]["k"] == [0, 0, 9]
    distinct, _ = _through([[0, 0], [0, 0]])
    assert distinct[0] is not distinct[1] and distinct == [[0, 0], [0, 0]]


def test_a_container_the_tests_passed_comes_back_as_their_own_object():
    judge = _wire.Codec("judge", make_handle=lambda *a: a)
    program = _wire.Codec("program", handle_of=lambda obj: 1)
    a, b = [1, 2], {"x": [3]}
    raw = json.loads(json.dumps(judge.encode([a, b])))
    passed = judge.containers
    args = program.decode(raw)
    reply = program.encode((args[0], args[1]["x"], [4]), args=program.containers)
    back = judge.decode(json.loads(json.dumps(reply)), args=passed)
    assert back[0] is a and back[1] is b["x"] and back[2] == [4]
    with pytest.raises(_wire.WireError):  # a reference to nothing passed
        judge.decode({"a": 7}, args=passed)
    with pytest.raises(_wire.WireError):
        judge.decode([{"@": 3}])


def test_counters_ordered_and_default_dicts_and_named_tuples_keep_their_kind():
    import collections

    point = collections.namedtuple("Point", "x y")
    out, _ = _through([collections.Counter("abca"), collections.OrderedDict([("b", 1), ("a", 2)]),
                       collections.defaultdict(list, {"k": [1]}), point(1, [2])])
    counter, ordered, default, p = out
    assert type(counter) is collections.Counter and counter["zzz"] == 0 and counter.most_common(1) == [("a", 2)]
    assert type(ordered) is collections.OrderedDict and list(ordered) == ["b", "a"]
    assert ordered != collections.OrderedDict([("a", 2), ("b", 1)]) and ordered == {"a": 2, "b": 1}
    assert default["new"] == [] and default["k"] == [1]
    assert type(p).__name__ == "Point" and p.x == 1 and p._asdict() == {"x": 1, "y": [2]} and p == (1, [2])


@pytest.mark.parametrize("raw", [
    {"nt": ["P", ["x", "x"], [1, 2]]}, {"nt": ["P", ["_x"], [1]]}, {"nt": ["class", ["x"], [1]]},
    {"nt": ["P", ["x; import os"], [1]]}, {"nt": ["P", ["x", "y"], [1]]}, {"dd": ["nosuch", []]},
    {"dd": [1, []]}, {"ct": [[1]]},
])
def test_collection_values_the_sender_describes_wrongly_are_wire_errors(raw):
    with pytest.raises(_wire.WireError):
        _wire.Codec("judge", make_handle=lambda *a: a).decode(raw)


def test_builtin_types_cross_as_themselves_both_ways():
    out, _ = _through([int, str, type(None), dict])
    assert out == [int, str, type(None), dict]
    judge_side, _ = _through([list, bool], side="judge")
    assert judge_side == [list, bool]


def test_builtin_exception_classes_cross_as_themselves():
    out, _ = _through([ValueError, KeyError], side="judge")
    assert out == [ValueError, KeyError]
