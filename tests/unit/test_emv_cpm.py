"""EMVCo consumer-presented QR: conformance vectors, BER-TLV edge cases, builder round trips, fuzzing."""

import base64
import json
import random
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pos_sim.domain.codes.emv_cpm import (
    MAX_DEPTH,
    MAX_TEXT_CHARS,
    PREFIX,
    CpmPayload,
    Tlv,
    build,
    decode,
    parse,
)
from pos_sim.domain.errors import CodeError

VECTORS = [
    v
    for v in json.loads((Path(__file__).parents[1] / "conformance" / "emv_vectors.json").read_text(encoding="utf-8"))
    if v["kind"] == "cpm" and v["format"] == "emv"
]
BY_ID = {v["id"]: v for v in VECTORS}

# Strict verdict of every vector: None (valid) or the tag of the first rule it breaks.
STRICT = {
    "mvallim-cpm-unionpay": None,
    "qris-cpm-encoder-1-longform-len": None,
    "qris-cpm-encoder-3-two-byte-len": "9F24",  # PAR of 58 bytes (ASCII hex), EMV says an 29
    "qris-cpm-parser-mock-2": None,
    "mvallim-cpm-duplicate-5F20": "5F20",  # in the first '61' and in '62' (5.1.1.10), in both modes
    "cpm-pfi-only": "61",  # no application template (5.1.1.3), in both modes
    "emvco-cpm-annexB1": None,
}

AID = Tlv("4F", bytes.fromhex("A0000000555555"))
PAN = Tlv("5A", bytes.fromhex("1234567890123458"))
PFI = Tlv("85", b"CPV01")


def app(*children: Tlv) -> Tlv:
    return Tlv("61", children=children)


def payload(*objects: Tlv) -> CpmPayload:
    return CpmPayload((PFI, *objects))


def b64(hex_: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_)).decode("ascii")


def rejects(code: CpmPayload, strict: bool = False) -> CodeError:
    with pytest.raises(CodeError) as info:
        code.validate(strict)
    return info.value


# --- conformance vectors ---------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["id"])
def test_vector_validity_lenient(vector):
    code = decode(vector["payload"])
    if vector["valid"]:
        code.validate()
    else:
        rejects(code)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["id"])
def test_vector_fields(vector):
    code = decode(vector["payload"])
    fields = code.fields()
    expected = vector["expected"]
    if "hex" in expected:
        assert code.to_bytes().hex().upper() == expected["hex"]
    if "payload_format_indicator" in expected:
        assert fields["payload_format_indicator"] == expected["payload_format_indicator"]
    for got, want in zip(fields["applications"], expected.get("applications", []), strict=False):
        assert {k: got.get(k) for k in want} == want
    assert len(fields["applications"]) >= len(expected.get("applications", []))


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["id"])
def test_vector_bytes_round_trip(vector):
    code = decode(vector["payload"])
    assert code.to_bytes() == base64.b64decode(vector["payload"])
    assert base64.b64encode(code.to_bytes()).decode() == vector["payload"]
    assert vector["payload"].startswith(PREFIX)
    assert code.kind == "emv-cpm"


@pytest.mark.parametrize("vector_id", sorted(STRICT))
def test_vector_strict(vector_id):
    code = decode(BY_ID[vector_id]["payload"])
    if STRICT[vector_id] is None:
        code.validate(strict=True)
    else:
        assert rejects(code, strict=True).tag == STRICT[vector_id]


def test_strict_table_covers_every_vector():
    assert set(STRICT) == set(BY_ID)


def test_duplicate_is_reported_where_it_lies():
    error = rejects(decode(BY_ID["mvallim-cpm-duplicate-5F20"]["payload"]))
    assert (error.tag, error.offset) == ("5F20", 76)


def test_pan_from_track2_and_transparent_data():
    unionpay = decode(BY_ID["mvallim-cpm-unionpay"]["payload"]).fields()["applications"][0]
    assert unionpay["pan"] == "6263600100713672"
    assert unionpay["transparent"]["9F26"] == "568AD7BCE66B718B"
    common = decode(BY_ID["mvallim-cpm-duplicate-5F20"]["payload"]).fields()["common"]
    assert common["cardholder_name"] == "CARDHOLDER/EMV"
    assert common["pan"] == "1234567890123458"


def test_objects_of_annex_b1():
    assert decode(BY_ID["emvco-cpm-annexB1"]["payload"]).as_objects() == [
        {"tag": "85", "length": 5, "offset": 0, "value": "4350563031"},
        {
            "tag": "61",
            "length": 26,
            "offset": 7,
            "children": [
                {"tag": "4F", "length": 7, "offset": 9, "value": "A0000000555555"},
                {"tag": "57", "length": 15, "offset": 18, "value": "1234567890123458D191220112345F"},
            ],
        },
    ]


# --- BER-TLV lengths and structure -----------------------------------------------------------


def test_long_form_lengths_of_the_qris_vectors():
    one = decode(BY_ID["qris-cpm-encoder-1-longform-len"]["payload"])
    three = decode(BY_ID["qris-cpm-encoder-3-two-byte-len"]["payload"])
    assert (one.tree[1].length_size, one.as_objects()[1]["length"]) == (1, 147)
    assert (three.tree[1].length_size, three.as_objects()[1]["length"]) == (2, 268)
    assert one.to_bytes()[7:10] == bytes.fromhex("618193")
    assert three.to_bytes()[7:11] == bytes.fromhex("6182010C")


@pytest.mark.parametrize(
    ("url_length", "template_size", "url_size"), [(100, 0, 0), (120, 1, 0), (200, 1, 1), (300, 2, 2)]
)
def test_built_objects_take_the_shortest_length_form(url_length, template_size, url_size):
    code = decode(build([{"aid": "A0000000555555", "pan": "1234567890123458", "issuer_url": "u" * url_length}]))
    template, url = code.tree[1], code.tree[1].children[2]
    assert (template.length_size, url.length_size) == (template_size, url_size)
    head = {0: f"{url_length:02X}", 1: f"81{url_length:02X}", 2: f"82{url_length:04X}"}[url_size]
    assert code.to_bytes()[url.offset : url.offset + 2 + 1 + url_size].hex().upper() == "5F50" + head
    assert code.as_objects()[1]["children"][2]["length"] == url_length


@pytest.mark.parametrize("length", ["811A", "82001A"])
def test_non_minimal_lengths_round_trip_exactly(length):
    hex_ = "8505435056303161" + length + "4F07A0000000555555570F1234567890123458D191220112345F"
    code = parse(b64(hex_), strict=True)
    assert code.to_bytes().hex().upper() == hex_
    assert code.fields()["applications"][0]["pan"] == "1234567890123458"


@pytest.mark.parametrize(
    ("hex_", "offset", "tag", "reason"),
    [
        ("850543505630316180", 8, "61", "indefinite"),
        ("85054350563031618301000000", 8, "61", "0x83"),
        ("8505435056303161844F", 8, "61", "0x84"),
        ("850543505630316106", 8, "61", "runs past"),
        ("8505435056303161034F07A0", 10, "4F", "runs past"),
        ("850543505630316182", 8, "61", "truncated"),
        ("8505435056303161", 8, "61", "no length"),
        ("850543505630319F", 7, "9F", "tag"),
        ("85054350563031DF818181810100", 7, "DF818181", "tag"),
        ("", 0, None, "empty"),
    ],
)
def test_broken_ber_tlv(hex_, offset, tag, reason):
    with pytest.raises(CodeError) as info:
        decode(b64(hex_))
    assert (info.value.offset, info.value.tag) == (offset, tag)
    assert reason in str(info.value)


def test_multi_byte_tags_and_nesting_limit():
    deep = "0000"
    for _ in range(MAX_DEPTH):
        deep = f"BF0C{len(deep) // 2:02X}{deep}"
    assert decode(b64(deep)).as_objects()[0]["tag"] == "BF0C"
    with pytest.raises(CodeError, match="nested"):
        decode(b64(f"BF0C{len(deep) // 2:02X}{deep}"))


@pytest.mark.parametrize("text", ["hQVDUFYwMQ", "hQVD UFYwMQ==", "hQVDUFYwMQ==\x00", "hQVDUFYwMQ=é", "~~~~"])
def test_not_base64(text):
    with pytest.raises(CodeError, match="base64"):
        decode(text)


def test_surrounding_whitespace_is_ignored():
    annex = BY_ID["emvco-cpm-annexB1"]["payload"]
    assert decode(f" \n{annex}\r\n ").to_bytes() == decode(annex).to_bytes()


@pytest.mark.parametrize("text", [None, b"hQVDUFYwMQ==", 42])
def test_not_text(text):
    with pytest.raises(CodeError):
        decode(text)


def test_a_megabyte_of_garbage_is_rejected_by_size():
    garbage = base64.b64encode(random.Random(7).randbytes(750_000)).decode()
    for text in (garbage, "A" * 1_000_000, PREFIX + "\x00" * 1_000_000):
        with pytest.raises(CodeError, match="at most") as info:
            decode(text)
        assert info.value.offset == MAX_TEXT_CHARS


def test_the_size_cap_is_on_base64_characters():
    def text(filler: int) -> str:
        return base64.b64encode(payload(app(AID, PAN, Tlv("9F70", bytes(filler)))).to_bytes()).decode()

    filler = 300 + MAX_TEXT_CHARS * 3 // 4 - len(base64.b64decode(text(300)))
    assert len(text(filler)) == MAX_TEXT_CHARS
    parse(f"\n {text(filler)} \n")
    with pytest.raises(CodeError, match="at most"):
        decode(text(filler + 1))


# --- validation rules ------------------------------------------------------------------------


def test_pfi_only_and_wrong_pfi():
    assert rejects(CpmPayload((PFI,))).tag == "61"
    assert rejects(CpmPayload((Tlv("85", b"CPV02"), app(AID, PAN)))).tag == "85"
    assert rejects(CpmPayload((app(AID, PAN), PFI))).tag == "85"
    assert rejects(CpmPayload(())).tag == "85"


@pytest.mark.parametrize(
    ("code", "tag"),
    [
        (payload(app(PAN)), "61"),  # no 4F
        (payload(app(Tlv("4F", b"\xa0\x00\x00\x00"), PAN)), "4F"),  # 4 bytes
        (payload(app(Tlv("4F", bytes(17)), PAN)), "4F"),  # 17 bytes
        (payload(app(AID)), "61"),  # neither 57 nor 5A
        (payload(app(AID, PAN, PAN)), "5A"),  # twice in one template
        (payload(app(AID, PAN, Tlv("50", "Kärtchen".encode()))), "50"),  # not ASCII
        (payload(app(AID), Tlv("62", children=(PAN,)), Tlv("62", children=())), "62"),  # two 62
        (payload(app(AID, PAN), app(AID), Tlv("62", children=(Tlv("5F20", b"A B"), PAN))), "5A"),
    ],
)
def test_lenient_rejects(code, tag):
    assert rejects(code).tag == tag


def test_pan_in_common_data_serves_every_application():
    other = Tlv("4F", bytes.fromhex("A0000000666666"))
    code = payload(app(AID, Tlv("50", b"ONE")), app(other), Tlv("62", children=(PAN,)))
    code.validate(strict=True)
    assert [a.get("pan") for a in code.fields()["applications"]] == [None, None]
    assert code.fields()["common"] == {"pan": "1234567890123458"}


@pytest.mark.parametrize(
    ("code", "tag"),
    [
        (payload(app(AID, PAN), app(AID, PAN), app(AID, PAN)), "61"),  # at most two '61'
        (payload(app(AID, PAN), Tlv("9F26", bytes(8))), "9F26"),  # a primitive after the templates
        (payload(Tlv("62", children=()), app(AID, PAN)), "61"),  # '62' before '61'
        (payload(app(AID, PAN), Tlv("BF0C", children=()), app(AID, PAN)), "61"),  # '61' late
        (payload(app(AID, PAN, Tlv("9F24", b"A" * 28))), "9F24"),  # PAR of 28
        (payload(app(AID, PAN, Tlv("9F24", b"-" * 29))), "9F24"),  # PAR not alphanumeric
        (payload(app(AID, PAN, Tlv("5F2D", b"english"))), "5F2D"),
        (payload(app(AID, PAN, Tlv("5F2D", b"EN"))), "5F2D"),
        (payload(app(AID, PAN, Tlv("5F50", b"https://bank.example/a b"))), "5F50"),
        (payload(app(AID, PAN, Tlv("50", b"tab\there"))), "50"),
        (payload(app(AID, PAN, Tlv("50", b"A" * 17))), "50"),
        (payload(app(AID, Tlv("5A", bytes.fromhex("12F4567890123458")))), "5A"),
        (payload(app(AID, Tlv("57", bytes.fromhex("1234567890123458191220112345")))), "57"),  # no D
        (payload(app(AID, PAN, Tlv("9F25", bytes.fromhex("12AB")))), "9F25"),
        (payload(app(AID, PAN, Tlv("9F19", bytes.fromhex("0999012345")))), "9F19"),
        (payload(app(AID, PAN, Tlv("9F08", bytes.fromhex("000010")))), "9F08"),
        (payload(app(AID, PAN, Tlv("5F20", b"X"))), "5F20"),
    ],
)
def test_strict_only_rejects(code, tag):
    code.validate()
    assert rejects(code, strict=True).tag == tag


def test_strict_accepts_a_full_application_and_other_templates():
    code = payload(
        app(
            AID,
            Tlv("50", b"DEBIT"),
            Tlv("57", bytes.fromhex("1234567890123458D191220112345F")),
            PAN,
            Tlv("5F20", b"CARDHOLDER/EMV"),
            Tlv("5F2D", b"enfr"),
            Tlv("5F50", b"https://bank.example/card"),
            Tlv("9F08", bytes.fromhex("0010")),
            Tlv("9F19", bytes.fromhex("099901234567")),
            Tlv("9F24", b"5001A9A2B3C4D5E6F7G8H9I0J1K2L"),
            Tlv("9F25", bytes.fromhex("3458")),
            Tlv("63", children=(Tlv("9F26", bytes(8)),)),
        ),
        app(Tlv("4F", bytes.fromhex("A0000000041010")), Tlv("5A", bytes.fromhex("5413330089010434"))),
        Tlv("62", children=(Tlv("64", children=(Tlv("9F36", b"\x00\x01"),)),)),
        Tlv("BF0C", children=()),
    )
    code.validate(strict=True)


# --- builder ---------------------------------------------------------------------------------


def test_build_reproduces_annex_b1():
    assert build([{"aid": "A0000000555555", "track2": "1234567890123458D191220112345F"}]) == BY_ID["emvco-cpm-annexB1"][
        "payload"
    ]


def test_build_pads_odd_pan_and_track2_and_writes_transparent_templates():
    cryptogram = {"9F26": "0102030405060708", "82": "5980"}
    text = build(
        [
            {
                "aid": "a0000006022020",  # lowercase hex is taken too
                "pan": "9360123411234567899",
                "transparent": {"9f26": "0102030405060708", "82": "5980"},
            }
        ],
        common={"track2": "1234567890123458D1912201", "transparent": {"9F36": "0001"}},
    )
    code = parse(text, strict=True)
    assert code.fields() == {
        "payload_format_indicator": "CPV01",
        "applications": [
            {"aid": "A0000006022020", "pan": "9360123411234567899", "transparent": cryptogram}
        ],
        "common": {"track2": "1234567890123458D1912201", "pan": "1234567890123458", "transparent": {"9F36": "0001"}},
    }
    assert code.to_bytes().hex().upper().count("9360123411234567899F") == 1
    assert [o["tag"] for o in code.as_objects()[1]["children"]] == ["4F", "5A", "63"]


@pytest.mark.parametrize(
    ("applications", "common"),
    [
        ([{"aid": "A0000000555555", "pan": "1234567890123458", "colour": "red"}], None),  # unknown field
        ([{"aid": "A00000005555Z5", "pan": "1234567890123458"}], None),  # not hex
        ([{"aid": "A000000055555", "pan": "1234567890123458"}], None),  # odd hex
        ([{"aid": "A0000000555555", "pan": "1234 5678"}], None),
        ([{"aid": "A0000000555555", "pan": "ABC"}], None),  # hex, not digits: was built, a PAN "ABC"
        ([{"aid": "A0000000555555", "pan": 1234567890123458}], None),
        ([{"aid": "A0000000555555", "pan": "1234567890123458", "label": "Kärtchen"}], None),
        ([{"aid": "A0000000555555", "pan": "1234567890123458", "label": 5}], None),
        ([{"aid": "A0000000555555"}], None),  # no PAN nor track 2
        ([{"pan": "1234567890123458"}], None),  # no AID
        ([], None),
        ([{"aid": "A0000000555555", "pan": "1234567890123458"}], {"pan": "1234567890123458"}),  # duplicate
        ([{"aid": "A0000000555555", "pan": "1234567890123458", "transparent": {"9F": "00"}}], None),
        ([{"aid": "A0000000555555", "pan": "1234567890123458", "transparent": {"63": "00"}}], None),
        ([{"aid": "A0000000555555", "pan": "1234567890123458", "transparent": {"": "00"}}], None),
        ([{"aid": "A0000000555555", "pan": "1234567890123458", "transparent": {"9F26": "0"}}], None),
        ([{"aid": "A0000000555555", "pan": "1234567890123458", "issuer_url": "u" * 70_000}], None),
        ([{"aid": "A0000000555555", "pan": "1234567890123458", "issuer_url": "u" * 3_100}], None),  # over the cap
    ],
)
def test_build_rejects(applications, common):
    with pytest.raises(CodeError):
        build(applications, common)


DIGITS = "0123456789"
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


def digits(low: int, high: int | None = None) -> st.SearchStrategy[str]:
    return st.text(DIGITS, min_size=low, max_size=low if high is None else high)


HEX_BYTES = st.binary(min_size=1, max_size=40).map(lambda b: b.hex().upper())
FIELD_VALUES = {
    "label": st.text(PRINTABLE, min_size=1, max_size=16),
    "track2": st.builds(lambda p, d, x: f"{p}D{d}{x}", digits(12, 19), digits(7), digits(0, 10)),
    "pan": digits(12, 19),
    "cardholder_name": st.text(PRINTABLE, min_size=2, max_size=26),
    "language": st.sampled_from(["en", "iden", "zhenfrde", "th"]),
    "issuer_url": st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=600),
    "last4_pan": digits(4),
    "app_version": st.binary(min_size=2, max_size=2).map(lambda b: b.hex().upper()),
    "token_requestor_id": digits(12),
    "par": st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=29, max_size=29),
}
TRANSPARENT = st.dictionaries(st.sampled_from(["9F26", "9F27", "9F10", "9F36", "82", "9F37", "DF8101"]), HEX_BYTES)


@st.composite
def wallets(draw):
    """One or two strict-conformant applications and maybe common data without the same fields."""
    apps = []
    for _ in range(draw(st.integers(1, 2))):
        fields = draw(st.fixed_dictionaries({}, optional=FIELD_VALUES))
        fields["aid"] = draw(st.binary(min_size=5, max_size=16)).hex().upper()
        if draw(st.booleans()):
            fields["transparent"] = draw(TRANSPARENT)
        apps.append(fields)
    common = None
    if draw(st.booleans()):
        used = {name for fields in apps for name in fields}
        common = draw(st.fixed_dictionaries({}, optional={k: v for k, v in FIELD_VALUES.items() if k not in used}))
        if draw(st.booleans()):
            common["transparent"] = draw(TRANSPARENT)
    assume(all("pan" in f or "track2" in f for f in apps) or {"pan", "track2"} & set(common or {}))
    return apps, common


def shown(fields: dict) -> dict:
    """What fields() gives back for built ``fields``: track 2 with its F pad, PAN from track 2."""
    out = dict(fields)
    if "track2" in out:
        out["track2"] += "F" * (len(out["track2"]) % 2)
        out.setdefault("pan", out["track2"].partition("D")[0])
    return out


@given(wallets())
def test_build_decode_fields_round_trip(wallet):
    apps, common = wallet
    text = build(apps, common)
    code = parse(text, strict=True)
    expected = {"payload_format_indicator": "CPV01", "applications": [shown(a) for a in apps]}
    if common is not None:
        expected["common"] = shown(common)
    assert code.fields() == expected
    assert base64.b64encode(code.to_bytes()).decode() == text


# --- the codec on arbitrary trees, and fuzzing -----------------------------------------------


def depth(obj: Tlv) -> int:
    """Templates nested in ``obj``, itself included."""
    return obj.constructed + max((depth(c) for c in obj.children), default=0)


def strip_offsets(objects: list[dict]) -> list[dict]:
    return [
        {k: strip_offsets(v) if k == "children" else v for k, v in o.items() if k != "offset"} for o in objects
    ]


PRIMITIVES = st.builds(
    lambda tag, value, size: Tlv(tag, value, length_size=size),
    st.sampled_from(["5A", "9F26", "82", "DF8101", "1F8101", "00"]),
    st.binary(max_size=300),
    st.integers(0, 2),
)
TREES = st.recursive(
    PRIMITIVES,
    lambda kids: st.builds(
        lambda tag, children, size: Tlv(tag, children=tuple(children), length_size=size),
        st.sampled_from(["61", "62", "63", "BF0C", "FF8101", "20"]),
        st.lists(kids, max_size=4),
        st.integers(0, 2),
    ),
    max_leaves=12,
)


@given(st.lists(TREES, min_size=1, max_size=4))
def test_any_tree_round_trips_through_text(tree):
    data = CpmPayload(tuple(tree)).to_bytes()
    assume(len(data) <= MAX_TEXT_CHARS * 3 // 4 and max(map(depth, tree)) <= MAX_DEPTH)
    code = decode(base64.b64encode(data).decode())
    assert code.to_bytes() == data
    assert strip_offsets(code.as_objects()) == strip_offsets(CpmPayload(tuple(tree)).as_objects())


def exercise(text: str) -> None:
    """Everything a terminal does with scanned text: only CodeError may come out."""
    try:
        code = decode(text)
    except CodeError:
        return
    data = base64.b64decode(text.strip())
    assert code.to_bytes() == data

    def check_offsets(objects: list[dict]) -> None:
        for o in objects:
            assert data[o["offset"] : o["offset"] + len(o["tag"]) // 2].hex().upper() == o["tag"]
            check_offsets(o.get("children", []))

    check_offsets(code.as_objects())
    code.fields()
    for strict in (False, True):
        try:
            code.validate(strict)
        except CodeError:
            pass


@given(st.text())
def test_random_text_raises_only_code_error(text):
    exercise(text)
    exercise(PREFIX + text)


@given(st.binary(max_size=600))
def test_random_base64_raises_only_code_error(data):
    exercise(base64.b64encode(data).decode())
    exercise(base64.b64encode(bytes.fromhex("85054350563031") + data).decode())


@given(
    st.sampled_from(VECTORS),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4),
    st.integers(0, 400),
)
def test_mutated_vectors_raise_only_code_error(vector, flips, cut):
    data = bytearray(base64.b64decode(vector["payload"]))
    for index, byte in flips:
        data[index % len(data)] = byte
    exercise(base64.b64encode(bytes(data)).decode())
    exercise(base64.b64encode(bytes(data[: cut % len(data)])).decode())
    exercise(vector["payload"][: cut % len(vector["payload"])])
