"""The child's words in quotation marks, once (``cylch_tags.quoted``)."""

import pytest

from cylch.core.templatetags.cylch_tags import quoted


@pytest.mark.parametrize(
    ("words", "shown"),
    [
        ("There's no food on Sundays.", "“There's no food on Sundays.”"),
        ("Drawing his house, Elis said: “There's no food on Sundays.”", "Drawing his house, Elis said: “There's no food on Sundays.”"),
        ('She said "I am scared of him"', 'She said "I am scared of him"'),
        ("", "“”"),
    ],
)  # fmt: skip
def test_words_already_in_quotation_marks_are_not_quoted_again(words, shown):
    assert quoted(words) == shown
