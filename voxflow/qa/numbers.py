"""Numbers as the words a narrator says, so "1891" in the text matches what is heard.

No number-to-words library (num2words, inflect) is installed, so this small one covers what
books hold: integers (any size up to the billions), years, ordinals and decimals.
"""

from __future__ import annotations

_ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_TENS = ("_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = (
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1000, "thousand"),
    (100, "hundred"),
)
# Longer digit runs (telephone numbers, ISBNs) are read digit by digit.
MAX_CARDINAL_DIGITS = 12
# Four-digit numbers in these ranges are read as years: "eighteen ninety one". 2000-2009 are
# "two thousand (and) seven" in speech, which the cardinal reading already gives.
YEAR_RANGES = ((1100, 1999), (2010, 2099))
_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def cardinal(number: int) -> str:
    """An integer in words: 1234 → "one thousand two hundred thirty four"."""
    if number < 0:
        return f"minus {cardinal(-number)}"
    if len(str(number)) > MAX_CARDINAL_DIGITS:
        return digits(str(number))
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    for value, word in _SCALES:
        if number >= value:
            head, rest = divmod(number, value)
            return f"{cardinal(head)} {word}" + (f" {cardinal(rest)}" if rest else "")
    raise AssertionError("unreachable: every number ≥ 100 has a scale")


def digits(text: str) -> str:
    """Each digit of a string as a word: "007" → "zero zero seven"."""
    return " ".join(_ONES[int(d)] for d in text if d.isdigit())


def is_year(number: int) -> bool:
    """Whether a four-digit number is conventionally read as a year."""
    return any(low <= number <= high for low, high in YEAR_RANGES)


def year(number: int) -> str:
    """A year as it is said: 1891 → "eighteen ninety one", 1900 → "nineteen hundred",
    1905 → "nineteen oh five"; numbers outside the year ranges are read as cardinals."""
    if not is_year(number):
        return cardinal(number)
    century, rest = divmod(number, 100)
    if rest == 0:
        return f"{cardinal(century)} hundred"
    if rest < 10:
        return f"{cardinal(century)} oh {cardinal(rest)}"
    return f"{cardinal(century)} {cardinal(rest)}"


def ordinal(number: int) -> str:
    """An ordinal in words: 21 → "twenty first", 100 → "one hundredth"."""
    words = cardinal(number).split()
    last = words[-1]
    if last in _IRREGULAR_ORDINALS:
        words[-1] = _IRREGULAR_ORDINALS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def spoken_integer(text: str, *, years: bool = False) -> str:
    """A run of digits from running text: leading zeros digit by digit, four-digit numbers in
    the year ranges as years when `years` is set, the rest as cardinals.

    Cardinals are the default because the joe voice (espeak-ng, en-us) reads "1891" as "one
    thousand eight hundred ninety one"; other voices say "eighteen ninety one"."""
    if len(text) > 1 and text.startswith("0"):
        return digits(text)
    number = int(text)
    if years and len(text) == 4 and is_year(number):
        return year(number)
    return cardinal(number)


_ROMAN_DIGITS = (
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
)  # fmt: skip
MAX_ROMAN = 3999


def roman(number: int) -> str:
    """1..3999 in canonical Roman numerals ("XIV")."""
    letters = []
    for value, symbol in _ROMAN_DIGITS:
        count, number = divmod(number, value)
        letters.append(symbol * count)
    return "".join(letters)


def roman_value(token: str) -> int | None:
    """The value of a canonical upper-case Roman numeral ("XIV" → 14); None for anything else
    ("IIII", "MIXED", "xiv"), so that only a numeral written as one is read as one."""
    total, rest = 0, token
    for value, symbol in _ROMAN_DIGITS:
        while rest.startswith(symbol):
            total, rest = total + value, rest[len(symbol) :]
    if rest or not 0 < total <= MAX_ROMAN or roman(total) != token:
        return None
    return total
