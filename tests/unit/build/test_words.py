"""The substitution matrix: Docker's ShellLex semantics, word by word."""

from __future__ import annotations

import pytest

from skiff.build.words import Env, LexError, ShellLex

ENV = Env(
    {"A": "a", "EMPTY": "", "SPACE": "x  y", "PATH": "/usr/bin:/bin", "FILE": "dir/sub/file.tar.gz", "N": "5"}
)

WORD_CASES = [
    # plain, quotes, escapes
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ('he"ll"o', "hello"),
    ("he\\'llo", "he'llo"),
    ("'$A'", "$A"),
    ('"$A"', "a"),
    ('"\\$A"', "$A"),
    ("\\$A", "$A"),
    ('"a\\"b"', 'a"b'),
    ('"a\\b"', "a\\b"),
    ("a\\ b", "a b"),
    ("'a\\b'", "a\\b"),
    # $var and ${var}
    ("$A", "a"),
    ("${A}", "a"),
    ("$Ab", ""),
    ("${A}b", "ab"),
    ("$UNSET", ""),
    ("x$", "x$"),
    ("$1", ""),
    ("$.A", "$.A"),
    # defaults and alternatives, unset vs empty
    ("${UNSET:-def}", "def"),
    ("${EMPTY:-def}", "def"),
    ("${A:-def}", "a"),
    ("${UNSET-def}", "def"),
    ("${EMPTY-def}", ""),
    ("${A-def}", "a"),
    ("${UNSET:+alt}", ""),
    ("${EMPTY:+alt}", ""),
    ("${A:+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${A+alt}", "alt"),
    ("${UNSET:-$A}", "a"),
    ("${UNSET:-${A:-z}x}", "ax"),
    ("${UNSET:-'q w'}", "q w"),
    # ${var?msg} when set
    ("${A?oops}", "a"),
    ("${A:?oops}", "a"),
    ("${EMPTY?oops}", ""),
    # prefix / suffix removal
    ("${FILE#*/}", "sub/file.tar.gz"),
    ("${FILE##*/}", "file.tar.gz"),
    ("${FILE%.*}", "dir/sub/file.tar"),
    ("${FILE%%.*}", "dir/sub/file"),
    ("${FILE#nomatch}", "dir/sub/file.tar.gz"),
    ("${PATH%:*}", "/usr/bin"),
    # replacement
    ("${FILE/sub/SUB}", "dir/SUB/file.tar.gz"),
    ("${PATH//\\//-}", "-usr-bin:-bin"),
    ("${FILE/t?r/TAR}", "dir/sub/file.TAR.gz"),
    # whitespace inside a value is kept by ProcessWord
    ("$SPACE", "x  y"),
    ('"$SPACE"', "x  y"),
]


@pytest.mark.parametrize(("word", "expected"), WORD_CASES)
def test_process_word(word: str, expected: str) -> None:
    assert ShellLex("\\").process_word(word, ENV) == expected


ERROR_CASES = [
    ("${UNSET?oops}", 'failed to process "${UNSET?oops}": UNSET: oops'),
    ("${UNSET?}", 'failed to process "${UNSET?}": UNSET: is not allowed to be unset'),
    ("${EMPTY:?}", 'failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty'),
    ("${EMPTY:?must be set}", 'failed to process "${EMPTY:?must be set}": EMPTY: must be set'),
    ("${A", 'failed to process "${A": unsupported modifier (\ufffd) in substitution'),
    ("${A:-x", "failed to process \"${A:-x\": syntax error: missing '}'"),
    ("${}", 'failed to process "${}": syntax error: bad substitution'),
    ("${:a}", 'failed to process "${:a}": syntax error: bad substitution'),
    ("${A:#x}", 'failed to process "${A:#x}": unsupported modifier (:#) in substitution'),
    ("${A^^}", 'failed to process "${A^^}": unsupported modifier (^) in substitution'),
    (
        "'open",
        'failed to process "\'open": unexpected end of statement while looking for matching single-quote',
    ),
    (
        '"open',
        'failed to process "\\"open": unexpected end of statement while looking for matching double-quote',
    ),
]


@pytest.mark.parametrize(("word", "message"), ERROR_CASES)
def test_process_word_errors(word: str, message: str) -> None:
    with pytest.raises(LexError) as e:
        ShellLex("\\").process_word(word, ENV)
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("word", "words"),
    [
        ("a b  c", ["a", "b", "c"]),
        ("$SPACE", ["x", "y"]),
        ('"$SPACE"', ["x  y"]),
        ("a$SPACE", ["ax", "y"]),
        ("'a b' c", ["a b", "c"]),
        ("80 $N/udp", ["80", "5/udp"]),
        ("", []),
    ],
)
def test_process_words_splits_like_expose(word: str, words: list[str]) -> None:
    assert ShellLex("\\").process_words(word, ENV) == words


def test_backtick_escape() -> None:
    lex = ShellLex("`")
    assert lex.process_word("c:\\dir `$A", ENV) == "c:\\dir $A"
    assert lex.process_word("$A", ENV) == "a"


def test_skip_unset_env_keeps_references() -> None:
    lex = ShellLex("\\", skip_unset_env=True)
    assert lex.process_word("$A $UNSET ${UNSET} ${UNSET:-x}", ENV) == "a $UNSET ${UNSET} ${UNSET:-x}"


def test_matches_are_reported() -> None:
    res = ShellLex("\\").process("$A ${UNSET:-x} $EMPTY", ENV)
    assert res.matched == {"A", "EMPTY"} and res.unmatched == {"UNSET"}
