"""Redaction rules: secret-named keys, credential shapes, secret environment values."""

from __future__ import annotations

import pytest

from tracetape.spans.redact import REDACTED, is_secret_key, redact_text, refresh_environment

CREDENTIALS = {
    "openai": "sk-proj-AbCdEf0123456789GhIjKlMnOpQr",
    "openai_legacy": "sk-0123456789abcdefghijKLMNOPQRSTUV",
    "anthropic": "sk-ant-api03-AbCdEf0123456789_GhIjKl",
    "google": "AIza" + "SyA0123456789abcdefghijklmnopqrstuv",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
    "github_pat": "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
    "slack": "xoxb-123456789012-abcdefghijkl",
    "huggingface": "hf_abcdefghijklmnopqrstuvwxyzABCDEF12",
    "gitlab": "glpat-abcdefghij0123456789",
    "groq": "gsk_abcdefghij0123456789ABCD",
    "xai": "xai-abcdefghij0123456789ABCD",
    "langsmith": "lsv2_pt_0123456789abcdef0123456789abcdef_0123456789",
    "stripe": "sk_live_0123456789abcdefghij",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
}


@pytest.mark.parametrize("name", sorted(CREDENTIALS))
def test_credential_shapes_are_redacted_inside_text(name: str) -> None:
    secret = CREDENTIALS[name]
    text = f"please use {secret} for this call."
    assert redact_text(text) == f"please use {REDACTED} for this call."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abcdef0123456789xyz", f"Authorization: {REDACTED}"),
        (
            "curl -H 'authorization: bearer abc.def-ghi_jkl~mno'",
            f"curl -H 'authorization: {REDACTED}'",
        ),
        ("postgres://bob:s3cretpass@db.internal/app", f"postgres://{REDACTED}@db.internal/app"),
        ("OPENAI_API_KEY=whatever-it-is-123", f"OPENAI_API_KEY={REDACTED}"),
        ('{"password": "correct horse"}', f'{{"password": "{REDACTED}"}}'),
        ("{'secret': 'x'}", f"{{'secret': '{REDACTED}'}}"),
        ('{"password": "hunter22!"}', f'{{"password": "{REDACTED}"}}'),
        (
            "https://api.example.com/v1?api_key=abc123def456&x=1",
            f"https://api.example.com/v1?api_key={REDACTED}&x=1",
        ),
        (
            "DefaultEndpointsProtocol=https;AccountKey=abcdEF012345==;",
            f"DefaultEndpointsProtocol=https;AccountKey={REDACTED};",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n"
            "-----END OPENSSH PRIVATE KEY-----",
            REDACTED,
        ),
    ],
)
def test_secret_assignments_and_blocks(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "risk-management-framework-for-everyone",
        "sk-learn-compatible-estimators",
        "max_tokens=1000, input_tokens: 123456",
        "the token budget is spent",
        "a basic sentence about passwords and keys",
        "short",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "apiKey",
        "x-api-key",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "STRIPE_KEY",
        "GITHUB_TOKEN",
        "accessToken",
        "refresh_token",
        "AWS_SECRET_ACCESS_KEY",
        "client_secret",
        "PASSWORD",
        "db_password",
        "Authorization",
        "Proxy-Authorization",
        "cookie",
        "private_key",
        "AccountKey",
        "passphrase",
    ],
)
def test_secret_names(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens",
        "input_tokens",
        "total_token_count",
        "token_type",
        "tokenizer",
        "key",
        "keys",
        "monkey",
        "sort_key",
        "public_key",
        "model",
        "author",
    ],
)
def test_ordinary_names(key: str) -> None:
    assert not is_secret_key(key)


def test_secret_environment_values_are_redacted_whatever_their_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "plainlookingvalue42")
    monkeypatch.setenv("DB_PASSWORD", "Tr0ub4dor&3")
    monkeypatch.setenv("DEPLOY_SECRET_MODE", "production")  # a plain word: not hunted
    monkeypatch.setenv("VISIBLE_SETTING", "visiblevalue123")
    refresh_environment()
    text = "token plainlookingvalue42, pw Tr0ub4dor&3, mode production, visiblevalue123"
    assert redact_text(text) == (
        f"token {REDACTED}, pw {REDACTED}, mode production, visiblevalue123"
    )


def test_the_working_directory_in_pwd_is_not_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PWD", "/work/projects/agent")
    monkeypatch.setenv("OLDPWD", "/home/someone/checkout")
    monkeypatch.setenv("DB_PWD", "s3cr3t-Passw0rd")  # a password all the same
    refresh_environment()
    text = 'File "/work/projects/agent/app.py", from /home/someone/checkout, pw s3cr3t-Passw0rd'
    assert redact_text(text) == (
        f'File "/work/projects/agent/app.py", from /home/someone/checkout, pw {REDACTED}'
    )
    assert is_secret_key("pwd")  # as a payload key it still names a password


def test_a_new_environment_secret_is_seen_without_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    redact_text("warm the cache up")
    monkeypatch.setenv("LATE_API_KEY", "zz-late-value-9876")
    assert redact_text("value zz-late-value-9876 here") == f"value {REDACTED} here"


@pytest.mark.parametrize(
    "text",
    [
        '{"usage_metadata":{"input_tokens":160,"output_tokens":20,"total_tokens":0}}',
        "max_tokens=1000, token_usage: 3",
        'token = "abcdef0123456789"',
        "Token\t:\tabcdefgh",
        "'api-key' = 'zzzzzzzzzzzz'",
        "the KEY: value123456 and a key; and keys",
        "passphrase=correct-horse-battery",
        "PassWd:hunter2hunter2",
        "shared_access_key = abcdefgh",
        'a "secret"="x" and secrets: nothing',
        "secret\n: not on one line",
        "tokenization: a word, not a secret",
        "keyboard: mechanical",
        '{"db_pa\u017f\u017fword": "hunter2hunter2"}',  # the long s, read as "s" by the pattern
        "api_\u212aey = abcdefgh",  # the Kelvin sign, read as "k"
    ],
)
def test_the_assignment_gate_never_skips_a_match(text: str) -> None:
    # The gate keeps the assignment pattern from scanning texts it cannot match; it must
    # say "possible" for every text the pattern matches.
    from tracetape.spans import redact

    if redact._ASSIGNMENT.search(text):  # pyright: ignore[reportPrivateUsage]
        assert redact_text(text) != text


def test_usage_counts_are_not_scanned_as_assignments() -> None:
    from tracetape.spans import redact

    usage = '{"input_tokens":160,"output_tokens":20,"total_tokens":0,"max_tokens":5}'
    assert not redact._assignment_possible(usage)  # pyright: ignore[reportPrivateUsage]
    assert redact_text(usage) == usage
    assert redact._assignment_possible('{"access_token": "abc"}')  # pyright: ignore[reportPrivateUsage]
