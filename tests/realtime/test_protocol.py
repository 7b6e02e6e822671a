"""The y-websocket wire protocol, against messages captured from the real JS libraries."""

from __future__ import annotations

import json
from pathlib import Path

import pycrdt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.errors import ProtocolError, RealtimeError
from realtime.protocol import (
    EMPTY_UPDATE,
    AwarenessMessage,
    Message,
    PermissionDenied,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    parse_message,
    validate_state_vector,
    validate_update,
    write_var_uint,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "yprotocols"
MANIFEST: dict[str, dict[str, object]] = json.loads((FIXTURES / "manifest.json").read_text())
KINDS: dict[str, type[Message]] = {
    "sync_step1": SyncStep1,
    "sync_step2": SyncStep2,
    "sync_update": SyncUpdate,
    "awareness": AwarenessMessage,
    "query_awareness": QueryAwareness,
    "permission_denied": PermissionDenied,
}
NAMES = sorted(MANIFEST)
SMALL_NAMES = [name for name in NAMES if int(str(MANIFEST[name]["size"])) < 4096]


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.bin").read_bytes()


def real_updates() -> list[bytes]:
    updates = []
    for name in SMALL_NAMES:
        message = parse_message(fixture(name))
        if isinstance(message, SyncUpdate | SyncStep2):
            updates.append(message.update)
    return updates


REAL_UPDATES = real_updates()


def test_fixtures_cover_every_message_kind() -> None:
    assert {entry["kind"] for entry in MANIFEST.values()} == set(KINDS)
    assert all((FIXTURES / f"{name}.bin").exists() for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_real_message_parses_to_its_kind_and_round_trips(name: str) -> None:
    data = fixture(name)
    message = parse_message(data)
    assert type(message) is KINDS[str(MANIFEST[name]["kind"])]
    assert bytes(message) == data
    assert bytes(type(message).parse(data)) == data


UPDATE_NAMES = [name for name in NAMES if MANIFEST[name]["kind"] in ("sync_update", "sync_step2")]


@pytest.mark.parametrize("name", UPDATE_NAMES)
def test_every_real_document_update_is_valid_and_applies(name: str) -> None:
    message = parse_message(fixture(name))
    assert isinstance(message, SyncUpdate | SyncStep2)
    validate_update(message.update)
    doc: pycrdt.Doc = pycrdt.Doc()  # type: ignore[type-arg]
    doc.apply_update(message.update)
    for root, expected in dict(MANIFEST[name].get("text", {})).items():  # type: ignore[call-overload]
        assert str(doc.get(root, type=pycrdt.Text)) == expected


def test_real_step2_with_skip_structs_carries_a_skip() -> None:
    update = SyncStep2.parse(fixture("sync_step2_with_skip")).update
    assert b"\x0a" in update  # the Skip struct's info byte
    validate_update(update)


def test_permission_denied_reason_is_decoded() -> None:
    message = PermissionDenied.parse(fixture("permission_denied"))
    assert message.reason == "read-only access: your changes were not saved"


def test_messages_built_in_python_equal_the_js_bytes() -> None:
    assert bytes(QueryAwareness()) == fixture("query_awareness")
    reason = "read-only access: your changes were not saved"
    assert bytes(PermissionDenied(reason)) == fixture("permission_denied")
    step1 = SyncStep1.parse(fixture("sync_step1_text"))
    assert bytes(SyncStep1(step1.state_vector)) == fixture("sync_step1_text")


def test_pycrdt_updates_are_framed_like_pycrdt_frames_them() -> None:
    doc: pycrdt.Doc = pycrdt.Doc()  # type: ignore[type-arg]
    doc.get("t", type=pycrdt.Text).insert(0, "hello")
    update = doc.get_update()
    assert bytes(SyncUpdate(update)) == pycrdt.create_update_message(update)


@pytest.mark.parametrize("name", SMALL_NAMES)
def test_every_truncated_real_message_is_rejected_as_malformed(name: str) -> None:
    data = fixture(name)
    for length in range(len(data)):
        with pytest.raises(ProtocolError) as caught:
            parse_message(data[:length])
        assert caught.value.close_code == 1008, (length, str(caught.value))


def test_truncated_sync_step1_is_rejected() -> None:
    data = fixture("sync_step1_text")
    with pytest.raises(
        ProtocolError,
        match=r"^truncated message: sync step1 of 4 bytes at byte 3 runs past the end \(3 left\)$",
    ):
        parse_message(data[:-1])


def test_truncated_varuint_names_its_position() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_message(b"\x00\x00\x80")
    assert str(caught.value) == "truncated message: varuint runs past the end at byte 2"
    assert caught.value.close_code == 1008


def test_unknown_message_type_is_unsupported_data() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_message(b"\x07")
    assert str(caught.value) == "unknown message type 7"
    assert caught.value.close_code == 1003


def test_unknown_sync_message_type_is_unsupported_data() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_message(b"\x00\x05\x00")
    assert caught.value.close_code == 1003


def test_unknown_auth_message_type_is_unsupported_data() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_message(b"\x02\x01\x00")
    assert caught.value.close_code == 1003


def test_empty_message_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="empty message"):
        parse_message(b"")


def test_too_large_message_is_rejected_before_decoding() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_message(b"\x07" * 5_000_000, max_size=1_048_576)
    assert str(caught.value) == "message of 5000000 bytes exceeds the limit of 1048576"
    assert caught.value.close_code == 1009


def test_message_at_the_limit_is_accepted() -> None:
    data = fixture("sync_step1_text")
    assert parse_message(data, max_size=len(data)) == SyncStep1.parse(data)


@pytest.mark.parametrize("name", SMALL_NAMES)
def test_trailing_garbage_after_a_real_message_is_rejected(name: str) -> None:
    with pytest.raises(ProtocolError, match=r"^trailing bytes after ") as caught:
        parse_message(fixture(name) + b"\x00")
    assert caught.value.close_code == 1008


def test_trailing_bytes_after_sync_step1_are_named() -> None:
    with pytest.raises(ProtocolError, match=r"^trailing bytes after sync step1"):
        parse_message(fixture("sync_step1_text") + b"\x01\x02")


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x00",  # type 0 written in two bytes
        b"\x00\x00\x81\x80\x80\x80\x80\x80\x80\x80\x00",  # length in 11 bytes (pycrdt accepts)
        b"\x00\x00\xff\xff\xff\xff\xff\xff\xff\x7f",  # length over 2**53 - 1
    ],
)
def test_overlong_or_oversized_varuints_are_rejected(data: bytes) -> None:
    with pytest.raises(ProtocolError, match=r"overlong varuint|exceeds 2\*\*53") as caught:
        parse_message(data)
    assert caught.value.close_code == 1008


def test_invalid_utf8_in_permission_denied_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="invalid UTF-8") as caught:
        parse_message(b"\x02\x00\x02\xc3\x28")
    assert caught.value.close_code == 1008


def test_parse_of_the_wrong_kind_is_rejected() -> None:
    with pytest.raises(ProtocolError):
        SyncStep1.parse(fixture("update_text_keystroke"))
    with pytest.raises(ProtocolError):
        AwarenessMessage.parse(fixture("query_awareness"))


def test_protocol_error_is_a_value_error_and_a_realtime_error() -> None:
    with pytest.raises(ValueError):
        parse_message(b"\x09")
    assert issubclass(ProtocolError, RealtimeError)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64))
def test_arbitrary_bytes_parse_or_raise_protocol_error(data: bytes) -> None:
    try:
        message = parse_message(data)
    except ProtocolError as error:
        assert error.close_code in (1003, 1008)
    else:
        assert bytes(message) == data  # strict decoding: whatever is accepted round-trips


@settings(max_examples=1000)
@given(st.sampled_from(SMALL_NAMES), st.data())
def test_mutated_real_messages_parse_or_raise_protocol_error(
    name: str, data: st.DataObject
) -> None:
    original = bytearray(fixture(name))
    index = data.draw(st.integers(0, len(original) - 1))
    original[index] = data.draw(st.integers(0, 255))
    try:
        message = parse_message(bytes(original))
    except ProtocolError:
        return
    assert bytes(message) == bytes(original)


# --- updates ---------------------------------------------------------------------------------


def test_empty_update_is_valid_and_changes_nothing() -> None:
    validate_update(EMPTY_UPDATE)
    doc: pycrdt.Doc = pycrdt.Doc()  # type: ignore[type-arg]
    doc.apply_update(EMPTY_UPDATE)
    assert doc.get_state() == b"\x00"


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00",
        b"\x00\x00\x00",  # pycrdt applies this without complaint
        REAL_UPDATES[0] + b"\x00",  # pycrdt applies this too
        b"\x01\x01\x01\x00\x0b",  # unknown content type 11
        b"\x01\x01\x01\x00\x20\x01",  # a GC struct with item flags
        b"\x01\x01\x01\x00\x07\x01\x01t\x05",  # XmlHook: Yjs and yrs disagree on its bytes
        b"\x01\x01\x01\x00\x04\x01\x01t\x00",  # an empty string item
    ],
)
def test_malformed_updates_are_rejected_as_policy_violations(garbage: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        validate_update(garbage)
    assert caught.value.close_code == 1008


def test_every_truncated_real_update_is_rejected() -> None:
    for update in REAL_UPDATES:
        for length in range(len(update)):
            with pytest.raises(ProtocolError):
                validate_update(update[:length])


def test_update_whose_parent_is_text_content_is_rejected() -> None:
    # item 1 (string "b") claims item 0 (string "a") of the same update as its parent: yrs
    # raises on it after integrating part of the update.
    update = b"\x01\x02\x01\x00\x04\x01\x01t\x01a\x04\x00\x01\x00\x01b\x00"
    with pytest.raises(ProtocolError, match="is not a type"):
        validate_update(update)


def test_state_vectors_are_validated() -> None:
    validate_state_vector(SyncStep1.parse(fixture("sync_step1_text")).state_vector)
    validate_state_vector(b"\x00")
    for bad in (b"", b"\x01\x01", b"\x00\x00", b"\x01\x01\xff\xff\xff\xff\x7f"):
        with pytest.raises(ProtocolError):
            validate_state_vector(bad)


def _apply_to_fresh_doc(update: bytes) -> None:
    doc: pycrdt.Doc = pycrdt.Doc()  # type: ignore[type-arg]
    doc.apply_update(update)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=48))
def test_validate_update_on_arbitrary_bytes_raises_only_protocol_error(data: bytes) -> None:
    try:
        validate_update(data)
    except ProtocolError:
        return
    _apply_to_fresh_doc(data)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REAL_UPDATES), st.data())
def test_accepted_mutations_of_real_updates_apply_to_pycrdt(
    update: bytes, data: st.DataObject
) -> None:
    mutated = bytearray(update)
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        if kind == "insert" or not mutated:
            mutated.insert(data.draw(st.integers(0, len(mutated))), data.draw(st.integers(0, 255)))
        elif kind == "delete":
            del mutated[data.draw(st.integers(0, len(mutated) - 1))]
        else:
            mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    try:
        validate_update(bytes(mutated))
    except ProtocolError:
        return
    _apply_to_fresh_doc(bytes(mutated))


def test_var_uint_encoding_matches_lib0() -> None:
    assert write_var_uint(0) == b"\x00"
    assert write_var_uint(127) == b"\x7f"
    assert write_var_uint(128) == b"\x80\x01"
    assert write_var_uint(2**53 - 1) == b"\xff\xff\xff\xff\xff\xff\xff\x0f"
    assert pycrdt.write_var_uint(300) == write_var_uint(300)
