"""The NACHA module: records as the rules lay them out, round trips, the moov sample files,
and agreement with an independent validator (PyPI ``achkit``)."""

from __future__ import annotations

from datetime import date

import achkit
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ohm.banking import nacha
from tests.shared_data import SHARED

SAMPLES = SHARED / "data" / "nacha" / "moov-testdata"
ODFI = "12104288"
HEADER = nacha.FileHeader(
    immediate_destination="121042882",
    immediate_origin="1946000123",
    creation_date=date(2026, 3, 3),
    creation_time="1015",
    destination_name="Pacific Bank",
    origin_name="City of Ohm Utilities",
)
ROUTINGS = ["231380104", "121042882", "011000015", "091000019", "021000021", "322271627"]


def debit(seq: int, cents: int = 12_345, routing: str = "231380104", code: int = 27):
    return nacha.Entry(
        transaction_code=code,
        routing_number=routing,
        account_number=f"99887766{seq:03d}",
        amount_cents=cents,
        individual_id=f"{seq:010d}",
        individual_name=f"Customer {seq}",
        trace_number=nacha.trace_number(ODFI, seq),
    )


def build(debits=(), credits=(), prenotes=()) -> str:
    return nacha.build_ach_file(
        header=HEADER,
        company_name="City of Ohm",
        company_id="1946000123",
        odfi=ODFI,
        effective_date=date(2026, 3, 4),
        debits=debits,
        credits=credits,
        prenotes=prenotes,
    )


class TestRoutingCheckDigit:
    @pytest.mark.parametrize("routing", ROUTINGS)
    def test_accepts_real_routing_numbers(self, routing):
        assert nacha.is_valid_routing(routing)

    @pytest.mark.parametrize(
        "routing", ["231380105", "123456789", "987654321", "12345678", "", "23138010A"]
    )
    def test_refuses_a_wrong_check_digit_or_shape(self, routing):
        assert not nacha.is_valid_routing(routing)

    def test_weights_are_three_seven_one(self):
        # 0*3 + 1*7 + 1*1 + 0*3 + 0*7 + 0*1 + 0*3 + 1*7 = 15, so the digit is 5
        assert nacha.routing_check_digit("01100001") == 5

    @given(st.text(alphabet="0123456789", min_size=8, max_size=8), st.integers(0, 9))
    def test_exactly_one_digit_completes_eight(self, body, digit):
        assert nacha.is_valid_routing(body + str(digit)) == (
            nacha.routing_check_digit(body) == digit
        )


class TestStructure:
    def test_every_record_is_94_characters_in_blocks_of_ten(self):
        text = build(debits=[debit(1), debit(2)], credits=[debit(3, code=22)])

        records = text.splitlines()

        assert all(len(r) == 94 for r in records)
        assert len(records) % 10 == 0
        assert [r[0] for r in records[:9]] == ["1", "5", "6", "6", "8", "5", "6", "8", "9"]
        assert records[9:] == ["9" * 94]

    def test_controls_hold_counts_hash_and_totals(self):
        text = build(debits=[debit(1, 100, "231380104"), debit(2, 250, "121042882")])

        batch_control, file_control = text.splitlines()[4], text.splitlines()[5]

        assert batch_control[1:4] == "225"
        assert batch_control[4:10] == "000002"
        assert batch_control[10:20] == f"{23138010 + 12104288:010d}"
        assert batch_control[20:32] == "000000000350"
        assert batch_control[32:44] == "000000000000"
        assert file_control[1:7] == "000001"
        assert file_control[7:13] == "000001"
        assert file_control[13:21] == "00000002"

    def test_entry_hash_keeps_the_rightmost_ten_digits(self):
        entries = [debit(i, 1, "991234561") for i in range(1, 120)]  # 119 × 99123456 > 10^10

        parsed = nacha.parse(build(debits=entries))

        assert parsed.entry_hash == (119 * 99123456) % 10**10
        assert 119 * 99123456 >= 10**10

    def test_prenotes_carry_no_amount(self):
        prenote = debit(1, 0, code=28)

        parsed = nacha.parse(build(prenotes=[prenote]))

        assert parsed.entries[0].is_prenote
        with pytest.raises(ValueError, match="prenote"):
            build(prenotes=[debit(2, 5, code=38)])

    def test_refuses_to_build_a_bad_routing_number(self):
        with pytest.raises(ValueError, match="check digit"):
            build(debits=[debit(1, routing="231380105")])

    def test_refuses_a_debit_in_the_credit_batch(self):
        with pytest.raises(ValueError, match="credits-only"):
            build(credits=[debit(1)])


entries = st.lists(
    st.tuples(
        st.sampled_from([22, 27, 32, 37]),
        st.sampled_from(ROUTINGS),
        st.text(alphabet="0123456789", min_size=4, max_size=17),
        st.integers(1, 99_999_999),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ .-'", min_size=1, max_size=22).filter(
            str.strip
        ),
    ),
    min_size=1,
    max_size=40,
)


class TestRoundTrip:
    @settings(max_examples=60, deadline=None)
    @given(entries)
    def test_build_then_parse_gives_the_same_entries(self, rows):
        built = [
            nacha.Entry(
                code, routing, account, cents, "ID", name.strip(), nacha.trace_number(ODFI, i)
            )
            for i, (code, routing, account, cents, name) in enumerate(rows, start=1)
        ]
        debits = [e for e in built if e.direction == "debit"]
        credits = [e for e in built if e.direction == "credit"]

        text = build(debits=debits, credits=credits)
        parsed = nacha.parse(text)

        assert [
            (
                e.transaction_code,
                e.routing_number,
                e.account_number,
                e.amount_cents,
                e.individual_name,
            )
            for e in parsed.entries
        ] == [
            (
                e.transaction_code,
                e.routing_number,
                e.account_number,
                e.amount_cents,
                e.individual_name.upper(),
            )
            for e in debits + credits
        ]
        assert parsed.debit_cents == sum(e.amount_cents for e in debits)
        assert parsed.credit_cents == sum(e.amount_cents for e in credits)
        assert nacha.build_file(parsed) == text

    @settings(max_examples=60, deadline=None)
    @given(entries)
    def test_the_independent_validator_accepts_our_files(self, rows):
        built = [
            nacha.Entry(code, routing, account, cents, "ID", name, nacha.trace_number(ODFI, i))
            for i, (code, routing, account, cents, name) in enumerate(rows, start=1)
        ]
        text = build(
            debits=[e for e in built if e.direction == "debit"],
            credits=[e for e in built if e.direction == "credit"],
            prenotes=[debit(9_000_000, 0, code=28)],
        )

        result = achkit.validate(text)

        assert result == {"ok": True, "errors": []}

    def test_the_independent_validator_catches_a_tampered_total(self):
        records = build(debits=[debit(1)]).splitlines()
        records[3] = records[3][:20] + "000000000001" + records[3][32:]

        result = achkit.validate("\n".join(records))

        assert not result["ok"]
        with pytest.raises(nacha.NachaError, match="total debit"):
            nacha.parse("\n".join(records))


class TestReturnsAndChanges:
    def test_reads_return_codes_and_original_traces(self):
        parsed = nacha.parse((SAMPLES / "return-WEB.ach").read_bytes())

        returns, changes = nacha.returns_and_changes(parsed)

        assert [e.return_addenda.return_code for e in returns] == ["R01", "R03"]
        assert returns[0].return_addenda.original_trace == "091400600000001"
        assert returns[0].amount_cents == 12354
        assert changes == []

    def test_reads_a_notification_of_change(self):
        parsed = nacha.parse((SAMPLES / "cor-example.ach").read_bytes())

        _, changes = nacha.returns_and_changes(parsed)

        noc = changes[0].change_addenda
        assert noc.change_code == "C01"
        assert noc.corrections == {"account_number": "1918171614"}

    def test_builds_and_reads_back_return_and_change_addenda(self):
        returned = nacha.Entry(
            26, "231380104", "12345678", 5000, "1", "A CUSTOMER", "23138010000001",
            addenda=(nacha.ReturnAddenda("R01", nacha.trace_number(ODFI, 7), ODFI, "231380100000001"),),
        )  # fmt: skip
        changed = nacha.Entry(
            21, "231380104", "12345678", 0, "1", "B CUSTOMER", "231380100000002",
            addenda=(nacha.ChangeAddenda("C02", nacha.trace_number(ODFI, 8), ODFI, "011000015", "231380100000002"),),
        )  # fmt: skip
        batch = nacha.Batch("BANK", "1946000123", "PPD", "RETURN", None, "23138010", 1,
                            (nacha.Entry(**{**returned.__dict__, "trace_number": "231380100000001"}), changed))  # fmt: skip

        parsed = nacha.parse(nacha.build_file(nacha.NachaFile(HEADER, (batch,))))

        returns, changes = nacha.returns_and_changes(parsed)
        assert returns[0].return_addenda.return_code == "R01"
        assert changes[0].change_addenda.corrections == {"routing_number": "011000015"}


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


#: moov's invalid files and what our parser must say about each (a fragment of the reason).
INVALID = {
    "20110729A-invalid.ach": "file creation date",
    "invalid-two-micro-deposits.ach": "line 15, entry detail amount",
    "ppd-debit-invalid-entryDetail-checkDigit.ach": "check digit",
    "ppd-debit-fixedLengthInvalid.ach": "must be 94 characters and found 1",
    "ppd-mixedDebitCredit-invalid.ach": "immediate origin",
    "iat-invalidBatchHeader.ach": "line 1",
    "iat-invalidEntryDetail.ach": "line 1",
    "iat-invalidAddendaRecordIndicator.ach": "addenda record indicator",
    "iat-invalidAddenda10.ach": "line 1",
    "iat-invalidAddenda11.ach": "0x1A",
    "iat-invalidAddenda12.ach": "0x1A",
    "Iat-invalidAddenda13.ach": "0x1A",
    "iat-invalidAddenda14.ach": "0x1A",
    "iat-invalidAddenda15.ach": "0x1A",
    "iat-invalidAddenda16.ach": "0x1A",
    "iat-invalidAddenda17.ach": "0x1A",
    "iat-invalidAddenda18.ach": "0x1A",
    "iat-invalidAddenda98.ach": "not a valid addenda change code",
    "web-invalidNOCFile.ach": "not a valid addenda change code",
    "iat-invalidAddenda99.ach": "not a valid return code",
    "pos-invalidReturnFile.ach": "not a valid return code",
    "pos-invalidEntryDetail.ach": "0x1A",
    "iat-invalidBatchControl.ach": "line 1",
    "iat-batchHeaderErr.ach": "line 1",
    "adv-invalidBatchEntries.ach": "service class code",
    "adv-invalidFileControl.ach": "service class code",
    "adv-noFileControl.ach": "service class code",
    "FISERV-ZEROFILE-PIMRET825324_032720_110221.ach": "routing number checksum mismatch",
    "NACHA_SAMPLE_TEL_REVERSAL.ach": "does not allow credit transaction codes",
    "shr-credit.ach": "SHR",
    "return-no-batch-controls.ach": "file header",
    "return-no-file-header-control.ach": "file header",
    "return-no-batch-header.ach": "file header",
    "bh-ed-ad-bh-ed-ad-ed-ad.ach": "file header",
    "20110805A.ach": "batch count",
    "extended-ascii.ach": "line 15",
    "nonascii.ach": "ASCII",
    "nonascii-utf8.ach": "ASCII",
    "skip-validation.ach": "immediate destination",
    "return-PPD-custom-reason-code.ach": "R97",
    "moov-ids.ach": "entry hash",
    "crashers/0.ach": "file header",
    "crashers/1.ach": "file header",
    "crashers/2.ach": "file header",
    "crashers/3.ach": "file header",
    "crashers/4.ach": "ASCII",
    "crashers/5.ach": "ASCII",
    # moov reads these; the NACHA rules do not allow them (see docs/formats/nacha.md):
    "20180713-IAT.ach": "debit in a credits-only (220) batch",
    "20180716-IAT-A17.ach": "debit in a credits-only (220) batch",
    "20180716-IAT-A17-A18.ach": "debit in a credits-only (220) batch",
    "txp-credit.ach": "effective entry date",
    "txp-debit.ach": "addenda sequence number",
    "adv.ach": "service class code",
    "flattenADVBatchesOneBatchHeader.ach": "service class code",
    "flattenADVBatchesMultipleBatchHeaders.ach": "service class code",
}

#: moov's files that read cleanly and that we read too (the others use SEC codes or layouts
#: we refuse by name: ADV, or break the NACHA positions; see docs/formats/nacha.md).
VALID = {
    "ppd-debit.ach": 1,
    "ppd-debit-fixedLength.ach": 1,
    "ppd-debit-customTraceNumber.ach": 1,
    "ppd-mixedDebitCredit.ach": 3,
    "web-debit.ach": 6,
    "two-micro-deposits.ach": 6,
    "cor-example.ach": 1,
    "return-WEB.ach": 2,
    "gl-debit.ach": 1,
    "loan-credit.ach": 1,
    "long-line.ach": 1,
    "short-line.ach": 1,
    "rck.ach": 1,
    "iat-debit.ach": 1,
    "iat-mixedDebitCredit.ach": 2,
    "iat-addenda98.ach": 1,
    "iat-addenda99.ach": 1,
    "flattenBatchesOneBatchHeader.ach": 3,
    "flattenBatchesMultipleBatchHeaders.ach": 12,
    "flattenBatchesTraceNumberCollision.ach": 15,
    "flattenIATBatchesOneBatchHeader.ach": 12,
    "flattenIATBatchesMultipleBatchHeaders.ach": 12,
}


class TestSampleFiles:
    @pytest.mark.parametrize(("name", "reason"), sorted(INVALID.items()))
    def test_refuses_each_invalid_file_with_a_reason(self, name, reason):
        with pytest.raises(nacha.NachaError) as caught:
            nacha.parse(_sample(name))

        assert reason in str(caught.value)
        assert caught.value.reason

    @pytest.mark.parametrize(("name", "count"), sorted(VALID.items()))
    def test_reads_the_valid_files(self, name, count):
        parsed = nacha.parse(_sample(name))

        assert len(parsed.entries) == count

    def test_every_sample_file_is_classified(self):
        names = {str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*.ach")}

        assert names == set(INVALID) | set(VALID)

    def test_names_line_field_and_value(self):
        with pytest.raises(nacha.NachaError) as caught:
            nacha.parse(_sample("ppd-debit-invalid-entryDetail-checkDigit.ach"))

        error = caught.value
        assert (error.line, error.field, error.value) == (
            3,
            "entry detail check digit",
            "231380105",
        )


class TestTamperedFiles:
    def _records(self):
        return build(debits=[debit(1), debit(2)]).splitlines()

    @pytest.mark.parametrize(
        ("index", "start", "replacement", "reason"),
        [
            (4, 10, "0000000001", "entry hash"),
            (4, 4, "000009", "entry/addenda count"),
            (5, 7, "000002", "block count"),
            (5, 1, "000002", "batch count"),
            (5, 21, "0000000001", "entry hash"),
            (2, 29, "00000A0000", "amount"),
            (0, 33, "a", "file id modifier"),
            (1, 69, "261341", "effective entry date"),
            (3, 1, "99", "transaction code"),
        ],
    )
    def test_refuses_a_file_with_one_field_changed(self, index, start, replacement, reason):
        records = self._records()
        records[index] = (
            records[index][:start] + replacement + records[index][start + len(replacement) :]
        )

        with pytest.raises(nacha.NachaError, match=reason):
            nacha.parse("\n".join(records))

    def test_refuses_a_truncated_file(self):
        with pytest.raises(nacha.NachaError, match="no batch control"):
            nacha.parse("\n".join(self._records()[:4]))
        with pytest.raises(nacha.NachaError, match="file control"):
            nacha.parse("\n".join(self._records()[:5]))

    def test_refuses_descending_trace_numbers(self):
        records = self._records()
        records[2], records[3] = records[3], records[2]

        with pytest.raises(nacha.NachaError, match="ascending"):
            nacha.parse("\n".join(records))

    def test_refuses_an_empty_file(self):
        with pytest.raises(nacha.NachaError, match="empty"):
            nacha.parse(b"")
