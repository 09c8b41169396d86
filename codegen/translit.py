"""ASCII names for Russian text: the fallback for a tag no overlay has named yet."""

from __future__ import annotations

import keyword
import re

_LATIN = [
    "a",
    "b",
    "v",
    "g",
    "d",
    "e",
    "e",
    "zh",
    "z",
    "i",
    "y",
    "k",
    "l",
    "m",
    "n",
    "o",
    "p",
    "r",
    "s",
    "t",
    "u",
    "f",
    "kh",
    "ts",
    "ch",
    "sh",
    "shch",
    "-",
    "y",
    "-",
    "e",
    "yu",
    "ya",
]
_ALPHABET = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_CYRILLIC = {cyr: ("" if lat == "-" else lat) for cyr, lat in zip(_ALPHABET, _LATIN, strict=True)}


def python_name(text: str) -> str:
    """A snake_case ASCII identifier: 'Поиск вакансий' -> 'poisk_vakansiy'."""
    latin = "".join(_CYRILLIC.get(ch, ch) for ch in text.lower())
    name = re.sub(r"[^a-z0-9]+", "_", latin).strip("_") or "default"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"tag_{name}"
    return name
