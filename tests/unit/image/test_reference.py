"""The reference grammar and Docker normalization (cases from distribution/reference's tests)."""

from __future__ import annotations

import pytest

from skiff.errors import InvalidParameter
from skiff.image import reference as r

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(("given", "full", "familiar"), [
    ("busybox", "docker.io/library/busybox", "busybox"),
    ("busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    ("library/busybox", "docker.io/library/busybox", "busybox"),
    ("docker.io/busybox", "docker.io/library/busybox", "busybox"),
    ("index.docker.io/busybox:1", "docker.io/library/busybox:1", "busybox:1"),
    ("user/app", "docker.io/user/app", "user/app"),
    ("docker.io/library/a/b", "docker.io/library/a/b", "library/a/b"),
    ("localhost/x", "localhost/x", "localhost/x"),
    ("localhost:5000/x:v1", "localhost:5000/x:v1", "localhost:5000/x:v1"),
    ("127.0.0.1:5000/a/b/c", "127.0.0.1:5000/a/b/c", "127.0.0.1:5000/a/b/c"),
    ("[::1]:5000/x", "[::1]:5000/x", "[::1]:5000/x"),
    ("Example.com/x", "Example.com/x", "Example.com/x"),
    (f"busybox@{D}", f"docker.io/library/busybox@{D}", f"busybox@{D}"),
    (f"busybox:1.36@{D}", f"docker.io/library/busybox:1.36@{D}", f"busybox:1.36@{D}"),
    ("u/a__b.c-d---e:T.a_g-1", "docker.io/u/a__b.c-d---e:T.a_g-1", "u/a__b.c-d---e:T.a_g-1"),
    ("a__b.c/f", None, None),
])
def test_normalize(given: str, full: str | None, familiar: str | None) -> None:
    if full is None:  # the first component looks like a domain but is not a valid one
        with pytest.raises(r.InvalidReference, match="invalid reference format"):
            r.parse(given)
        return
    ref = r.parse(given)
    assert str(ref) == full
    assert ref.familiar == familiar


def test_default_tag_and_parts() -> None:
    ref = r.parse("busybox").with_default_tag()
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("docker.io", "library/busybox", "latest", None)
    assert r.parse(f"busybox@{D}").with_default_tag().tag == ""
    assert r.parse("x:1").repository().familiar == "x"
    assert r.parse("x").with_tag("v2").familiar == "x:v2"
    with pytest.raises(InvalidParameter, match="invalid tag format"):
        r.parse("x").with_tag("-bad")


@pytest.mark.parametrize(("given", "message"), [
    ("", "invalid reference format"),
    ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
    ("user/App:1", "invalid reference format: repository name (user/App) must be lowercase"),
    ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings"),
    ("busybox:", "invalid reference format"),
    ("busybox:-x", "invalid reference format"),
    ("busybox@sha256:abc", "invalid reference format"),
    ("busybox@sha256:" + "g" * 64, "invalid reference format"),
    ("/busybox", "invalid reference format"),
    ("busybox/", "invalid reference format"),
    ("a//b", "invalid reference format"),
    ("a:b:c", "invalid reference format"),
    ("-a", "invalid reference format"),
    ("a-", "invalid reference format"),
    ("a..b", "invalid reference format"),
    ("busybox:" + "t" * 129, "invalid reference format"),
    ("x/" + "a" * 250, "repository name must not be more than 255 characters"),
    ("busybox@sha512:" + "a" * 64, "invalid checksum digest length"),
    ("busybox@foo:" + "a" * 64, "unsupported digest algorithm"),
])
def test_invalid(given: str, message: str) -> None:
    with pytest.raises(r.InvalidReference) as ei:
        r.parse(given)
    assert str(ei.value) == message


def test_strict_and_helpers() -> None:
    assert str(r.parse_strict("docker.io/library/x:1")) == "docker.io/library/x:1"
    with pytest.raises(r.InvalidReference, match="canonical"):
        r.parse_strict("x:1")
    assert r.parse_search("UPPER") is None
    assert r.is_image_id("sha256:" + "0" * 64) and r.is_image_id("f" * 64) and not r.is_image_id("abc")


def test_reference_regexp_not_catastrophic() -> None:
    # The separator rule must not backtrack exponentially on long near-misses.
    with pytest.raises(r.InvalidReference):
        r.parse("a" + "-" * 30 + "a" * 30 + "!")
