"""Authentication-Results (RFC 8601): parsing, and the DMARC verdict of our own servers."""

from __future__ import annotations

from daemon.authres import AuthResults, Result, dmarc_failure, header_values, parse

TRUSTED = ("mx.example.cn",)


def test_a_header_gives_its_authserv_id_and_each_result():
    parsed = parse(
        "mx.example.cn; spf=pass smtp.mailfrom=ann@client.example; "
        "dkim=pass header.d=client.example; dmarc=pass header.from=client.example"
    )
    assert parsed == AuthResults(
        "mx.example.cn",
        (
            Result("spf", "pass", "", {"smtp.mailfrom": "ann@client.example"}),
            Result("dkim", "pass", "", {"header.d": "client.example"}),
            Result("dmarc", "pass", "", {"header.from": "client.example"}),
        ),
    )


def test_comments_folding_and_spaces_around_equals_are_ignored():
    parsed = parse(
        "MX.Example.CN (our (nested) border)\r\n 1; DMARC (policy)= Fail\r\n"
        " (p=reject) header.from = client.example"
    )
    assert parsed == AuthResults(
        "mx.example.cn", (Result("dmarc", "fail", "", {"header.from": "client.example"}),)
    )


def test_quoted_authserv_id_reason_and_method_version_are_read():
    parsed = parse('"mx.example.cn"; dkim/1=fail reason="signature \\"bad\\"" header.i=@x.test')
    assert parsed is not None
    assert parsed.authserv_id == "mx.example.cn"
    assert parsed.results == (Result("dkim", "fail", 'signature "bad"', {"header.i": "@x.test"}),)


def test_a_quoted_local_part_stays_one_value_with_its_domain():
    parsed = parse('mx.example.cn; spf=fail smtp.mailfrom="ann lee"@client.example')
    assert parsed is not None
    assert parsed.results[0].properties == {"smtp.mailfrom": "ann lee@client.example"}


def test_none_means_no_results():
    assert parse("mx.example.cn 1; none") == AuthResults("mx.example.cn", ())


def test_a_malformed_resinfo_is_skipped_and_the_rest_kept():
    parsed = parse("mx.example.cn; =fail; dmarc=fail header.from=x.test; spf")
    assert parsed is not None
    assert [r.method for r in parsed.results] == ["dmarc"]


def test_a_header_without_authserv_id_is_unreadable():
    assert parse("") is None
    assert parse("  (only a comment) ") is None
    assert parse("; dmarc=fail") is None


def test_dmarc_fail_from_a_trusted_server_names_the_forged_domain():
    headers = ["mx.example.cn; dmarc=fail (p=reject) header.from=client.example"]
    reason = dmarc_failure(headers, TRUSTED, "client.example")
    assert reason == "dmarc=fail for client.example from mx.example.cn"


def test_dmarc_fail_from_a_server_we_do_not_trust_means_nothing():
    headers = ["mx.attacker.test; dmarc=fail header.from=client.example"]
    assert dmarc_failure(headers, TRUSTED, "client.example") is None


def test_nothing_is_checked_when_no_server_is_trusted():
    headers = ["mx.example.cn; dmarc=fail header.from=client.example"]
    assert dmarc_failure(headers, (), "client.example") is None


def test_a_pass_or_a_result_about_another_from_domain_is_not_a_failure():
    assert dmarc_failure(["mx.example.cn; dmarc=pass"], TRUSTED, "client.example") is None
    other = ["mx.example.cn; dmarc=fail header.from=elsewhere.test"]
    assert dmarc_failure(other, TRUSTED, "client.example") is None


def test_a_forged_pass_beside_our_fail_does_not_hide_it():
    headers = [
        "mx.example.cn; dmarc=pass header.from=client.example",
        "MX.EXAMPLE.CN; dmarc=fail header.from=Client.Example",
    ]
    assert dmarc_failure(headers, TRUSTED, "client.example") is not None


def test_dmarc_fail_without_header_from_applies_to_the_sender_domain():
    headers = ["mx.example.cn; dmarc=fail"]
    assert dmarc_failure(headers, TRUSTED, "client.example") is not None


def test_header_values_reads_only_the_header_block_and_unfolds():
    raw = (
        b"Authentication-Results: mx.example.cn;\r\n dmarc=fail header.from=x.test\r\n"
        b"Subject: hi\r\n\r\n"
        b"Authentication-Results: body.test; dmarc=pass\r\n"
    )
    assert header_values(raw) == ("mx.example.cn; dmarc=fail header.from=x.test",)
