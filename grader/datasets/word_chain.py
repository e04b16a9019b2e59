"""Character-level text from a word-level Markov chain over a small vocabulary of real words.

Sentences such as "the lazy fox chases anna. a bird sleeps quietly." are drawn
word by word: each word depends only on the word before it. Which kind of word
may follow (a determiner, a noun, a verb, ...) is fixed by a small table, and
each word has its own preferences among the words of the next kind (drawn from
the seed), so "dog" may prefer "chases" while "fox" prefers "sleeps".

Because the source is known, its entropy rate is computed exactly: the word
chain's entropy rate divided by the mean number of characters per word (its
leading space or its period included; the text is a one-to-one spelling of the
word sequence). No model can beat it on average: it is the floor of the
cross-entropy, published with the data as the document `entropy`.

Public: `tokens`, the training text as character ids (int64 (n,)), and
`contexts`, int64 (m, context_length) windows of new text. Each context is cut
from its own stretch of freshly generated text, so no context holds another
context's next character or any hint of it. Hidden: `next_tokens` (m,), the
character that followed each context. The document `vocabulary` lists the
characters (id = index).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from .source import DataParts, DataSource, Parameter

END = "."  # ends a sentence; spelled without a space before it
WORDS = {
    "det": ("the", "a", "every", "some", "this", "my"),
    "adj": ("small", "big", "red", "old", "happy", "quiet", "green", "lazy", "brave", "tiny"),
    "noun": (
        "cat", "dog", "bird", "fox", "child", "teacher", "farmer", "river",
        "garden", "house", "tree", "ball", "book", "horse", "queen", "robot",
    ),
    "name": ("anna", "bruno", "clara", "david", "emma", "felix"),
    "verb": ("sees", "likes", "finds", "chases", "reads", "watches", "carries", "follows", "paints", "visits", "helps"),
    "still": ("sleeps", "runs", "sings", "jumps", "waits", "smiles", "laughs"),  # verbs without an object
    "prep": ("near", "under", "behind", "with", "over", "beside"),
    "adv": ("quickly", "slowly", "often", "again", "today", "quietly"),
    "end": (END,),
}  # fmt: skip
# Which kind of word follows which, with what probability (a first-order chain over kinds of words).
FOLLOWS = {
    "end": {"det": 0.65, "name": 0.35},
    "det": {"adj": 0.35, "noun": 0.65},
    "adj": {"noun": 0.85, "adj": 0.15},
    "noun": {"verb": 0.4, "still": 0.25, "prep": 0.15, "end": 0.2},
    "name": {"verb": 0.6, "still": 0.4},
    "verb": {"det": 0.7, "name": 0.3},
    "still": {"end": 0.5, "adv": 0.3, "prep": 0.2},
    "prep": {"det": 0.8, "name": 0.2},
    "adv": {"end": 0.8, "prep": 0.2},
}
PREFERENCE = 0.5  # Dirichlet concentration of each word's preferences: lower, more predictable next words
SPREAD = 32  # how far past the context length a context's end may fall (a random place within a word)


@dataclasses.dataclass(frozen=True)
class WordChain:
    """The source of the text: words, how each is spelled, and the word-to-word transition probabilities."""

    words: tuple[str, ...]
    transitions: np.ndarray  # [previous word, next word] -> probability; rows sum to one

    @property
    def spellings(self) -> tuple[str, ...]:
        """Each word as it appears in the text: " word", or "." with no space before it."""
        return tuple(word if word == END else f" {word}" for word in self.words)

    @property
    def vocabulary(self) -> list[str]:
        """The characters of the text, sorted: id = index."""
        return sorted(set("".join(self.spellings)))

    def stationary(self) -> np.ndarray:
        """How often each word occurs in a long text (the chain's stationary distribution)."""
        values, vectors = np.linalg.eig(self.transitions.T)
        vector = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
        return vector / vector.sum()

    def entropy(self) -> dict[str, float]:
        """The source's entropy rate in bits per word and per character, and characters per word."""
        frequency = self.stationary()
        p = self.transitions
        per_word = float(-(frequency[:, None] * np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)).sum())
        characters = float(frequency @ np.array([len(spelling) for spelling in self.spellings]))
        return {
            "bits_per_character": per_word / characters,
            "bits_per_word": per_word,
            "characters_per_word": characters,
        }

    def sample(self, rng: np.random.Generator, first: np.ndarray, steps: int) -> np.ndarray:
        """Walk `steps` words on from each word in `first` (one chain each): word ids (len(first), steps + 1)."""
        cumulative = np.cumsum(self.transitions, axis=1)
        walks = np.empty((len(first), steps + 1), dtype=np.int64)
        walks[:, 0] = first
        for step in range(steps):
            draws = rng.random(len(first))
            rows = cumulative[walks[:, step]]
            walks[:, step + 1] = np.minimum((rows < draws[:, None]).sum(axis=1), len(self.words) - 1)
        return walks

    def spell(self, walk: np.ndarray) -> str:
        spellings = self.spellings
        return "".join(spellings[word] for word in walk)


def make_chain(rng: np.random.Generator) -> WordChain:
    """Draw each word's preferences among the words of each kind that may follow it."""
    kinds = [kind for kind, words in WORDS.items() for _ in words]
    words = tuple(word for group in WORDS.values() for word in group)
    transitions = np.zeros((len(words), len(words)))
    for row, kind in enumerate(kinds):
        for next_kind, share in FOLLOWS[kind].items():
            columns = [column for column, other in enumerate(kinds) if other == next_kind]
            transitions[row, columns] = share * rng.dirichlet(np.full(len(columns), PREFERENCE))
    return WordChain(words, transitions)


def build(options: Mapping[str, Any], seed: int) -> DataParts:
    """Draw the chain, then the training text and the contexts, from the seed."""
    rng = np.random.default_rng(seed)
    chain = make_chain(rng)
    vocabulary = chain.vocabulary
    ids = {character: index for index, character in enumerate(vocabulary)}
    length = int(options["context_length"])
    tokens = _encode(_training_text(chain, rng, int(options["train_size"])), ids)
    contexts, next_tokens = _contexts(chain, rng, int(options["test_size"]), length, ids)
    return DataParts(
        public={"tokens": tokens, "contexts": contexts},
        hidden={"next_tokens": next_tokens},
        documents={"vocabulary": vocabulary, "entropy": chain.entropy()},
    )


def _training_text(chain: WordChain, rng: np.random.Generator, size: int) -> str:
    """One long walk from a word drawn as often as it occurs, cut to `size` characters."""
    first = rng.choice(len(chain.words), size=1, p=chain.stationary())
    steps = size // 2 + 1  # every word takes at least two characters
    text = chain.spell(chain.sample(rng, first, steps)[0])
    return text[:size]


def _contexts(
    chain: WordChain, rng: np.random.Generator, count: int, length: int, ids: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Each context from its own walk: the `length` characters before a random place, and the character there."""
    first = rng.choice(len(chain.words), size=count, p=chain.stationary())
    steps = (length + SPREAD) // 2 + 1
    walks = chain.sample(rng, first, steps)
    ends = rng.integers(length, length + SPREAD, size=count)
    contexts = np.empty((count, length), dtype=np.int64)
    next_tokens = np.empty(count, dtype=np.int64)
    for row, (walk, end) in enumerate(zip(walks, ends, strict=True)):
        text = chain.spell(walk)
        contexts[row] = _encode(text[end - length : end], ids)
        next_tokens[row] = ids[text[end]]
    return contexts, next_tokens


def _encode(text: str, ids: Mapping[str, int]) -> np.ndarray:
    return np.array([ids[character] for character in text], dtype=np.int64)


SOURCE = DataSource(
    name="word-chain",
    build=build,
    parameters={
        "train_size": Parameter(200_000, minimum=1000, maximum=5_000_000, integer=True, help="training characters"),
        "test_size": Parameter(4000, minimum=10, maximum=100_000, integer=True, help="contexts to predict"),
        "context_length": Parameter(64, minimum=8, maximum=1000, integer=True, help="characters per context"),
    },
    description=(
        "English-like sentences from a word-level Markov chain over 68 real words, as characters; its entropy "
        "rate, the floor of any model's cross-entropy, is computed exactly and published as the document entropy."
    ),
)
