"""Face detection with the cascade bundled in opencv-python-headless, on a real photograph
(scikit-image's bundled astronaut sample: the only real person in the test data)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage import data

from bioleak.demo.images import portrait, to_bytes
from pipeline.faces import detect_faces
from pipeline.hashing import hamming, hash_bytes
from pipeline.matching import RegistryIndex
from pipeline.registry import SqliteRegistry, enrolment_entries

ASTRONAUT = Image.fromarray(data.astronaut())
FACE_BOX = (163, 51, 287, 175)  # where the cascade finds her face in the 512x512 sample


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union


def test_finds_the_face_in_a_real_photo() -> None:
    [box] = detect_faces(ASTRONAUT.convert("L"))
    assert overlap(box, FACE_BOX) > 0.5


def test_no_faces_in_noise() -> None:
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 300), dtype=np.uint8), "L")
    assert detect_faces(noise) == []


def test_face_regions_carry_boxes_in_original_pixels() -> None:
    big = ASTRONAUT.resize((2048, 2048))  # decoded at reduced scale; boxes must come back at full scale
    faces = [r for r in hash_bytes(to_bytes(big, "JPEG", quality=90), faces=True).regions if r.region == "face"]
    assert len(faces) == 1 and faces[0].box is not None
    scaled = tuple(v * 4 for v in FACE_BOX)
    assert overlap(faces[0].box, scaled) > 0.4  # type: ignore[arg-type]


def test_a_face_cut_from_an_enrolled_photo_and_pasted_elsewhere_matches(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The 'sample sheet' a reseller makes from several victims' selfies, in an irregular layout."""
    registry = SqliteRegistry(tmp_path / "r.sqlite3")
    registry.add(enrolment_entries("acme-bank", "astronaut-selfie", to_bytes(ASTRONAUT, "PNG"), faces=True))
    kinds = {e.kind for e in registry.entries()}
    index = RegistryIndex(registry.arrays())
    registry.close()
    assert kinds == {"whole", "face"}

    [face_box] = detect_faces(ASTRONAUT.convert("L"))
    face = ASTRONAUT.crop(face_box)
    canvas = portrait(77).resize((900, 600))
    canvas.paste(face.resize((220, 220)), (610, 300))  # not on any grid: tiles will not find it
    hashes = hash_bytes(to_bytes(canvas, "JPEG", quality=85), faces=True)
    matches = index.match(hashes)
    assert [(m.ref, m.region) for m in matches] == [("astronaut-selfie", "face")]


def test_faces_are_off_unless_asked() -> None:
    plain = hash_bytes(to_bytes(ASTRONAUT, "JPEG"))
    assert {r.region for r in plain.regions} == {"whole", "mirror"}
    with_faces = hash_bytes(to_bytes(ASTRONAUT, "JPEG"), faces=True)
    assert hamming(plain.regions[0].phash, with_faces.regions[0].phash) == 0
