"""Property: whatever the bytes, load_package raises nothing but PackageError subclasses.

Random bytes, and random damage to a valid package: bit flips, truncation, a member
replaced by random bytes (digest table updated or not), a manifest field replaced by
random JSON. A mutation may leave a loadable package; loading it is fine too.
"""

import contextlib
import io
import json
import os
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamrec.model_package.errors import PackageError
from streamrec.model_package.package import load_package, read_manifest
from streamrec.state.features import default_spec
from tests.corpus.packages import repack, unpack

# STREAMREC_FUZZ_EXAMPLES=5000 for a long run; the default keeps the unit suite quick.
FUZZ = settings(
    max_examples=int(os.environ.get("STREAMREC_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _loads_or_rejects(package: bytes) -> None:
    with contextlib.suppress(PackageError):
        load_package(package, default_spec())
    with contextlib.suppress(PackageError):
        read_manifest(package)


@FUZZ
@given(st.binary(max_size=2048) | st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b))
def test_random_bytes(data: bytes) -> None:
    _loads_or_rejects(data)


@FUZZ
@given(data=st.data())
def test_bit_flips_and_truncation(package_bytes: bytes, data: st.DataObject) -> None:
    package = bytearray(package_bytes)
    index = st.integers(0, len(package) - 1)
    for position in data.draw(st.lists(index, min_size=1, max_size=8)):
        package[position] ^= 1 << data.draw(st.integers(0, 7))
    if data.draw(st.booleans()):
        del package[data.draw(index) :]
    _loads_or_rejects(bytes(package))


@FUZZ
@given(data=st.data())
def test_member_replaced(package_bytes: bytes, data: st.DataObject) -> None:
    manifest, files = unpack(package_bytes)
    name = data.draw(st.sampled_from(sorted(files)))
    files[name] = data.draw(st.binary(max_size=512))
    _loads_or_rejects(repack(manifest, files, rehash=data.draw(st.booleans())))


@FUZZ
@given(data=st.data())
def test_manifest_field_replaced(package_bytes: bytes, data: st.DataObject) -> None:
    manifest, files = unpack(package_bytes)
    target = manifest
    # Walk down a random path of objects, then replace one value with random JSON.
    while True:
        key = data.draw(st.sampled_from(sorted(target)))
        if isinstance(target[key], dict) and target[key] and data.draw(st.booleans()):
            target = target[key]
            continue
        target[key] = data.draw(JSON)
        break
    _loads_or_rejects(repack(manifest, files))


def test_repack_of_an_untouched_package_still_loads(package_bytes: bytes) -> None:
    manifest, files = unpack(package_bytes)
    assert load_package(repack(manifest, files), default_spec()).ranker is not None
    with zipfile.ZipFile(io.BytesIO(package_bytes)) as zf:
        assert json.loads(zf.read("manifest.json")) == manifest
