"""Movie-review sentiment: short English-like reviews generated from a small grammar.

Each review is built from clauses ("the plot was not very clever", "i loved the
acting") whose polarity is the sentiment word's, flipped by a negation ("not",
"never", "hardly", "wasn't", "didn't"). Reviews join clauses so that word order
decides the label: after "but" and "although X ," the later clause wins, with
"even though" the earlier one, after "overall ," the verdict; "and" joins
clauses that agree. Contrasted clauses always disagree, so "good but not great"
and "not good but great" hold the same words with opposite labels: a
bag-of-words model cannot tell them apart, a model that reads in order can.

Two classes (0 negative, 1 positive): the lesson is composition (negation,
contrast, order), and a neutral class would mostly test a word list; with two
balanced classes chance is 0.5 and accuracy reads plainly.

Tokens come from a fixed vocabulary (0 "<pad>", 1 "<unk>" for the names of
directors and actors, which a real tokenizer would not know). Sequences are
padded with 0 at the start, as Keras's `pad_sequences` does, so the last
position holds the review's last word; no review is longer than
`sequence_length` (longer ones are never generated, so none is truncated).
A small share of training labels (`label_noise`) is flipped; test labels are
clean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .source import DataParts, DataSource, Parameter, classification_parts

PAD, UNK = "<pad>", "<unk>"

SUBJECTS = (
    "the film", "the movie", "this film", "this movie", "it", "the plot", "the story", "the acting",
    "the cast", "the script", "the dialogue", "the soundtrack", "the music", "the ending", "the direction",
    "the pacing", "the cinematography", "the heroine", "the camera work", "the humour", "the lead actor",
    "the villain", "the first half", "the second half",
)  # fmt: skip
POSITIVE_ADJECTIVES = (
    "good", "great", "excellent", "brilliant", "superb", "wonderful", "moving", "clever", "charming",
    "gripping", "delightful", "beautiful", "funny", "fresh", "solid", "enjoyable", "stunning", "memorable",
)  # fmt: skip
NEGATIVE_ADJECTIVES = (
    "bad", "awful", "terrible", "dull", "boring", "weak", "clumsy", "predictable", "bland", "messy",
    "tedious", "forgettable", "painful", "lazy", "flat", "silly", "confusing", "poor",
)  # fmt: skip
POSITIVE_NOUNS = ("masterpiece", "gem", "delight", "treat", "triumph", "joy")
NEGATIVE_NOUNS = ("mess", "disaster", "bore", "letdown", "failure", "chore")
POSITIVE_VERBS = ("loved", "liked", "enjoyed", "adored", "admired", "appreciated")
NEGATIVE_VERBS = ("hated", "disliked", "loathed", "resented", "regretted")
PRESENT_VERBS = {  # after "did not" / "didn't" / "would"
    "loved": "love", "liked": "like", "enjoyed": "enjoy", "adored": "adore", "admired": "admire",
    "appreciated": "appreciate", "hated": "hate", "disliked": "dislike", "loathed": "loathe",
    "resented": "resent", "regretted": "regret",
}  # fmt: skip
INTENSIFIERS = ("very", "really", "truly", "quite", "so", "incredibly", "extremely", "rather", "pretty")
NOUN_INTENSIFIERS = ("real", "total", "complete", "true")
ADVERBS = ("really", "truly", "absolutely", "honestly")  # before a verb: "i really loved"
PREFIXES = (
    "honestly ,", "to be honest ,", "well ,", "in my opinion ,", "i think", "i felt that", "frankly ,",
    "for me ,", "to be fair ,",
)  # fmt: skip
FILLERS = (
    "i saw it last week .", "we watched it at home .", "i watched it with friends .", "directed by <unk> .",
    "starring <unk> and <unk> .", "it runs two hours .", "i saw it in the cinema .", "it is a sequel .",
    "it is based on a novel .", "my sister picked it .", "it came out last year .", "the film stars <unk> .",
)  # fmt: skip

# How often each shape of review is drawn. The last four contrast clauses of opposite sentiment, so a model
# that ignores word order is right on about half of them; together they are 45% of the reviews.
SHAPES = ("one clause", "agreeing", "but", "although", "even though", "overall")
SHAPE_SHARES = (0.35, 0.20, 0.25, 0.08, 0.06, 0.06)
NEGATION_SHARE = 0.35  # clauses whose sentiment word is negated


def _vocabulary() -> list[str]:
    """Every token the grammar can produce: "<pad>", "<unk>", then the rest in alphabetical order."""
    phrases = (
        SUBJECTS + POSITIVE_ADJECTIVES + NEGATIVE_ADJECTIVES + POSITIVE_NOUNS + NEGATIVE_NOUNS + POSITIVE_VERBS
        + NEGATIVE_VERBS + tuple(PRESENT_VERBS.values()) + INTENSIFIERS + NOUN_INTENSIFIERS + ADVERBS + PREFIXES
        + FILLERS
        + ("was is felt seemed not never hardly wasn't isn't didn't did i would a", "but although even though",
           "and overall , .", "recommend")
    )  # fmt: skip
    words = {word for phrase in phrases for word in phrase.split()} - {PAD, UNK}
    return [PAD, UNK, *sorted(words)]


VOCABULARY: list[str] = _vocabulary()
TOKEN_IDS: dict[str, int] = {token: index for index, token in enumerate(VOCABULARY)}


class _Grammar:
    """Draws clauses and reviews with one random generator; every draw returns (words, polarity)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def chance(self, probability: float) -> bool:
        return bool(self.rng.random() < probability)

    def clause(self, polarity: int) -> list[str]:
        """One clause whose sentiment is `polarity` (+1 positive, -1 negative), negated or not."""
        negated = self.chance(NEGATION_SHARE)
        word_polarity = -polarity if negated else polarity
        kind = self.rng.random()
        if kind < 0.55:
            return self._adjective_clause(word_polarity, negated)
        if kind < 0.75:
            return self._noun_clause(word_polarity, negated)
        return self._verb_clause(word_polarity, negated)

    def _adjective_clause(self, polarity: int, negated: bool) -> list[str]:
        """ "the plot was not very clever", "the music never felt fresh", "it isn't good"."""
        adjective = self.pick(POSITIVE_ADJECTIVES if polarity > 0 else NEGATIVE_ADJECTIVES)
        intensifier = [self.pick(INTENSIFIERS)] if self.chance(0.3) else []
        if not negated:
            verb = [self.pick(("was", "is", "felt", "seemed"))]
        elif self.chance(0.5):
            verb = [self.pick(("was", "is")), self.pick(("not", "never", "hardly"))]
        elif self.chance(0.5):
            verb = [self.pick(("wasn't", "isn't"))]
        else:
            verb = [self.pick(("never", "hardly")), self.pick(("felt", "seemed"))]
        return [*self.pick(SUBJECTS).split(), *verb, *intensifier, adjective]

    def _noun_clause(self, polarity: int, negated: bool) -> list[str]:
        """ "the film was a real masterpiece", "the ending wasn't a disaster"."""
        noun = self.pick(POSITIVE_NOUNS if polarity > 0 else NEGATIVE_NOUNS)
        intensifier = [self.pick(NOUN_INTENSIFIERS)] if self.chance(0.3) else []
        if not negated:
            verb = [self.pick(("was", "is"))]
        elif self.chance(0.5):
            verb = [self.pick(("was", "is")), self.pick(("not", "never", "hardly"))]
        else:
            verb = [self.pick(("wasn't", "isn't"))]
        return [*self.pick(SUBJECTS).split(), *verb, "a", *intensifier, noun]  # no noun or intensifier takes "an"

    def _verb_clause(self, polarity: int, negated: bool) -> list[str]:
        """ "i really loved the acting", "i didn't enjoy the plot", "i would not recommend it"."""
        subject = self.pick(SUBJECTS).split()
        if polarity > 0 and self.chance(0.2):  # recommending is positive; hating it is not a phrase
            verb = ["would", *(["not"] if negated and self.chance(0.5) else ["never"] if negated else []), "recommend"]
            return ["i", *verb, *subject]
        past = self.pick(POSITIVE_VERBS if polarity > 0 else NEGATIVE_VERBS)
        if not negated:
            adverb = [self.pick(ADVERBS)] if self.chance(0.3) else []
            return ["i", *adverb, past, *subject]
        verb = self.pick((["did", "not"], ["didn't"], ["never"]))
        return ["i", *verb, past if verb == ["never"] else PRESENT_VERBS[past], *subject]

    def review(self, polarity: int) -> list[str]:
        """A whole review whose label is `polarity`, with a neutral sentence before or after it at random."""
        shape = SHAPES[int(self.rng.choice(len(SHAPES), p=SHAPE_SHARES))]
        if shape == "one clause":
            prefix = self.pick(PREFIXES).split() if self.chance(0.3) else []
            words = [*prefix, *self.clause(polarity), "."]
        elif shape == "agreeing":
            words = [*self.clause(polarity), self.pick(("and", ".")), *self.clause(polarity), "."]
        elif shape == "but":  # the second clause decides
            comma = [","] if self.chance(0.5) else []
            words = [*self.clause(-polarity), *comma, "but", *self.clause(polarity), "."]
        elif shape == "although":  # "although X , Y": the main clause Y decides
            words = ["although", *self.clause(-polarity), ",", *self.clause(polarity), "."]
        elif shape == "even though":  # "X even though Y": the main clause X decides
            words = [*self.clause(polarity), "even", "though", *self.clause(-polarity), "."]
        else:  # "X . overall , Y": the verdict decides
            words = [*self.clause(-polarity), ".", "overall", ",", *self.clause(polarity), "."]
        if self.chance(0.3):
            filler = self.pick(FILLERS).split()
            words = [*filler, *words] if self.chance(0.5) else [*words, *filler]
        return words


def encode(words: list[str], length: int) -> np.ndarray:
    """Token ids of `words`, padded with 0 at the start to `length`."""
    ids = np.zeros(length, dtype=np.int64)
    ids[length - len(words) :] = [TOKEN_IDS[word] for word in words]
    return ids


def generate(count: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw `count` reviews of at most `length` tokens with balanced labels; return (ids, labels)."""
    grammar = _Grammar(rng)
    labels = rng.permutation(np.arange(count) % 2).astype(np.int64)
    reviews = np.zeros((count, length), dtype=np.int64)
    for row, label in enumerate(labels):
        words = grammar.review(1 if label else -1)
        while len(words) > length:  # draw again rather than cut off the clause that decides
            words = grammar.review(1 if label else -1)
        reviews[row] = encode(words, length)
    return reviews, labels


def decode(ids: np.ndarray) -> str:
    """The review a row of token ids stands for, padding left out (for statements and debugging)."""
    return " ".join(VOCABULARY[index] for index in ids if index != 0)


def build(options: Mapping[str, Any], seed: int) -> DataParts:
    """Generate training and test reviews from `seed`; flip `label_noise` of the training labels."""
    rng = np.random.default_rng(seed)
    length = int(options["sequence_length"])
    x_train, y_train = generate(int(options["train_size"]), length, rng)
    x_test, y_test = generate(int(options["test_size"]), length, rng)
    flipped = rng.random(len(y_train)) < float(options["label_noise"])
    y_train = np.where(flipped, 1 - y_train, y_train)
    return classification_parts(x_train, y_train, x_test, y_test, vocabulary=list(VOCABULARY))


SOURCE = DataSource(
    name="sentiment",
    build=build,
    parameters={
        "train_size": Parameter(8000, minimum=10, maximum=200_000, integer=True, help="training reviews"),
        "test_size": Parameter(2000, minimum=10, maximum=100_000, integer=True, help="test reviews"),
        "sequence_length": Parameter(
            32, minimum=16, maximum=512, integer=True, help="tokens per review, padded with 0 at the start"
        ),
        "label_noise": Parameter(0.02, minimum=0, maximum=0.2, help="share of training labels flipped"),
    },
    description=(
        f"Generated English-like movie reviews labelled negative (0) or positive (1); negation and contrast "
        f"('but', 'although', 'even though', 'overall') decide the label. Vocabulary of {len(VOCABULARY)} "
        f"tokens, 0 = padding at the start."
    ),
)
