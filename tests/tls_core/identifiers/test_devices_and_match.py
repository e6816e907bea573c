from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tls_core.identifiers import (
    Identifier,
    esn_dec_to_hex,
    esn_hex_to_dec,
    imei_check_digit,
    imsi_parts,
    match_grade,
    meid_to_pesn,
)


def test_imei_check_digit_known_values():
    # 3GPP TS 23.003 style examples: the Luhn digit over TAC+SNR.
    assert imei_check_digit("49015420323751") == "8"
    assert imei_check_digit("35209900176148") == "1"


@given(st.integers(0, 0xFFFFFFFF))
def test_esn_crosswalk_round_trips(value):
    esn = f"{value:08X}"
    dec = esn_hex_to_dec(esn)
    assert len(dec) == 11
    assert esn_dec_to_hex(dec) == esn


def test_pseudo_esn_of_a_meid():
    # Published example: MEID A0000000002329 -> pESN 80 51 F1 AB.
    assert meid_to_pesn("A0000000002329") == "8051F1AB"


def test_imsi_parts_use_three_digit_mncs_in_north_america():
    assert imsi_parts("310260123456789") == ("310", "260", "123456789")
    assert imsi_parts("234150123456789") == ("234", "15", "0123456789")


def test_match_grades():
    a = Identifier("phone", "+12135550142")
    assert match_grade(a, Identifier("phone", "+12135550142")) == "exact"
    assert match_grade(a, Identifier("phone", "+522135550142")) == "national_number"
    assert match_grade(a, Identifier("phone", "+12135550143")) is None
    imei = Identifier("imei", "490154203237518", "490154203237518")
    assert match_grade(imei, Identifier("imei", "490154203237518", "490154203237518")) == "exact"
    assert match_grade(imei, Identifier("imei", "490154203237518", "4901542032375102")) == (
        "imei_tac_snr"
    )
    meid = Identifier("meid", "A0000000002329")
    assert match_grade(meid, Identifier("esn", "8051F1AB")) == "meid_pesn"
    assert match_grade(Identifier("esn", "8051F1AB"), meid) == "meid_pesn"
    assert match_grade(meid, Identifier("esn", "8051F1AC")) is None
    assert match_grade(a, Identifier("service", "+12135550142")) is None
