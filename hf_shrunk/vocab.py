"""The restricted vocabulary, the one text normalisation, and the paper's two word-counting rules.

Three things live here because every stage must agree on them:

* :func:`normalize` — the only normalisation in hf_shrunk: Unicode NFC after lower-casing. The paper
  lower-cased documents and the vocabulary (docs/paper.md#vocabulary, docs/paper.md#corpus-filter); NFC only
  merges decomposed characters (``e`` + combining acute -> ``é``) so that two spellings of one word are one word.
* The **corpus rule** (docs/paper.md#corpus-filter, as the paper's ``vocab_utils.preprocess`` + scikit-learn's
  ``CountVectorizer`` did it): ``-`` becomes whitespace, wikitext number separators ``@,@``/``@.@`` become
  ``#number``, digits at a word start (``\\b\\d+``) become ``#number`` + whitespace, URLs (``http\\S+``) become
  ``#hlink``; the counted tokens are the runs of >= 2 word characters (``(?u)\\b\\w\\w+\\b``), with multiplicity.
  ``number`` is in the vocabulary, ``hlink`` is not (a unit with a URL is rejected).
* The **GLUE rule** (docs/paper.md#glue-protocol, the paper's ``utils.filter_example``): see :func:`glue_words`.

A :class:`Vocabulary` is loaded from the paper's CSV (``,word,frequency``), a one-word-per-line file, or
``wordfreq:N`` (the top N alphabetic English words of the ``wordfreq`` package; the offline fallback).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_shrunk.config import ConfigError, UserError

# ----------------------------------------------------------------------------------------------------------
# Normalisation and the corpus rule
# ----------------------------------------------------------------------------------------------------------

URL_TOKEN = "hlink"  # what a URL turns into; never a vocabulary word, so URL units are rejected
NUMBER_TOKEN = "number"

# The paper's regexes (mini_bert scripts/vocab_utils.py). The paper inserted spaces; we insert tabs, which
# every later regex treats exactly like spaces (both are whitespace and non-word), so that the spaces of
# the original text stay the only spaces: the batched filter counts words by them (hf_shrunk/corpus/batch.py).
_AT_NUMBER_RE = re.compile(r"@[,.]@")
_NUMBER_RE = re.compile(r"\b\d+")
_URL_RE = re.compile(r"http\S+")
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn CountVectorizer's default token_pattern
TOKEN_RE = re.compile(TOKEN_PATTERN)


def normalize(text: str) -> str:
    """The one normalisation used everywhere: lower-case, then Unicode NFC.

    Args:
        text (`str`): any text (a document, a vocabulary word, a GLUE sentence).

    Returns:
        `str`: the lower-cased, NFC-composed text.
    """
    return unicodedata.normalize("NFC", text.lower())


def normalize_batch(texts: list[str]) -> list[str]:
    """``[normalize(t) for t in texts]``, computed on the NUL-joined batch in one call when that is equivalent
    (no text contains NUL: NUL is a starter that nothing composes with, and it ends Greek final-sigma contexts
    exactly like the end of a string).

    Args:
        texts (`list[str]`): texts to normalise.

    Returns:
        `list[str]`: the normalised texts.
    """
    joined = "\x00".join(texts)
    if joined.count("\x00") == len(texts) - 1:
        out = normalize(joined).split("\x00")
        if len(out) == len(texts):
            return out
    return [normalize(t) for t in texts]


def preprocess(text: str) -> str:
    """The paper's pre-counting substitutions on already-normalised text (kept text is never changed).

    Args:
        text (`str`): normalised text.

    Returns:
        `str`: text in which hyphens, numbers and URLs are replaced as described in the module docstring.
    """
    text = text.replace("-", "\t")
    text = _AT_NUMBER_RE.sub("#number", text)
    text = _NUMBER_RE.sub("#number\t", text)
    return _URL_RE.sub("#hlink", text)


def counted_tokens(text: str) -> list[str]:
    """The tokens the corpus rule counts in ``text`` (normalised first), with multiplicity.

    Args:
        text (`str`): a unit of text.

    Returns:
        `list[str]`: e.g. ``counted_tokens("A well-known 3-day trip!") == ["well", "known", "number", "day", "trip"]``.
    """
    return TOKEN_RE.findall(preprocess(normalize(text)))


def oov_check(
    text: str, vocab: Vocabulary | frozenset[str] | set[str], max_examples: int = 5
) -> tuple[int, int, list[str]]:
    """Count the counted tokens of ``text`` and those not in ``vocab``.

    Args:
        text (`str`): a unit of text.
        vocab (`Vocabulary` or `set[str]`): the vocabulary (normalised words).
        max_examples (`int`, defaults to 5): how many distinct OOV words to return, in order of appearance.

    Returns:
        `tuple[int, int, list[str]]`: ``(n_tokens, n_oov, first_oov_words)``.
    """
    words = vocab.words if isinstance(vocab, Vocabulary) else vocab
    tokens = counted_tokens(text)
    if words.issuperset(tokens):
        return len(tokens), 0, []
    oov = [t for t in tokens if t not in words]
    first = list(dict.fromkeys(oov))[:max_examples]
    return len(tokens), len(oov), first


# ----------------------------------------------------------------------------------------------------------
# The GLUE rule (docs/paper.md#glue-protocol)
# ----------------------------------------------------------------------------------------------------------

# Exactly the character class of the paper's utils.filter_example: ASCII digits and this punctuation.
_GLUE_STRIP_RE = re.compile(r"""[0-9!:&“”—\-_,@#$?;’.'()"]""")
CONTRACTION_PIECES = frozenset({"nt", "s", "re", "t", "d", "ll"})


def glue_text(example: Mapping[str, Any]) -> str:
    """The text the GLUE rule checks: ``sentence``; else ``sentence1 + " " + sentence2``; else the first two
    text fields (``question``/``sentence`` for QNLI, ``premise``/``hypothesis`` for MNLI, ...).

    The paper used ``sentence`` whenever it existed, so QNLI was checked on its ``sentence`` only; we check
    the question too (docs/paper.md#differences).

    Args:
        example (`Mapping[str, Any]`): one GLUE example in the ``nyu-mll/glue`` schema.

    Returns:
        `str`: the text to check.
    """
    texts = [k for k, v in example.items() if isinstance(v, str)]
    if texts == ["sentence"]:
        return example["sentence"]
    if "sentence1" in example and "sentence2" in example:
        return f"{example['sentence1']} {example['sentence2']}"
    return " ".join(example[k] for k in texts[:2])


def glue_words(text: str) -> list[str]:
    """The words the GLUE rule looks up, as the paper's ``filter_example`` computed them.

    Split on single spaces; drop every token except the first that is not all lower-case
    (``token != token.lower()``: proper nouns, acronyms); normalise; delete ASCII digits and the punctuation
    ``! : & “ ” — - _ , @ # $ ? ; ’ . ' ( ) "`` anywhere in the token; drop empty tokens and the contraction
    pieces ``nt s re t d ll`` left by GLUE's tokenisation (``does n't`` -> ``nt``).

    Casing: our models are trained on lower-cased text, so the GLUE stage also feeds GLUE text lower-cased;
    the paper fed it cased to its (lower-case-trained) models.

    Args:
        text (`str`): the example text (see :func:`glue_text`).

    Returns:
        `list[str]`: the normalised words, in order.
    """
    out = []
    for i, token in enumerate(text.split(" ")):
        if i and token != token.lower():
            continue
        word = _GLUE_STRIP_RE.sub("", normalize(token))
        if word and word not in CONTRACTION_PIECES:
            out.append(word)
    return out


def passes_glue_filter(
    fields: Mapping[str, Any] | Sequence[str] | str, vocab: Vocabulary | frozenset[str] | set[str]
) -> bool:
    """True if every GLUE word of the example is in the vocabulary (an example with no words passes, as in
    the paper).

    Args:
        fields (`Mapping`, `Sequence[str]` or `str`): a GLUE example (the text is chosen by :func:`glue_text`),
            or its text fields in order, or the text itself.
        vocab (`Vocabulary` or `set[str]`): the vocabulary.

    Returns:
        `bool`: whether the example belongs to the vocabulary-filtered GLUE.
    """
    if isinstance(fields, str):
        text = fields
    elif isinstance(fields, Mapping):
        text = glue_text(fields)
    else:
        text = " ".join(fields[:2])
    words = vocab.words if isinstance(vocab, Vocabulary) else vocab
    return words.issuperset(glue_words(text))


# ----------------------------------------------------------------------------------------------------------
# Vocabulary
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """A set of normalised words and where it came from.

    Attributes:
        words (`frozenset[str]`): the normalised words.
        source (`str`): the file it was read from, or ``"wordfreq"``.
        spec (`str`): what was asked for (a path or ``wordfreq:N``).
        mojibake (`tuple[str, ...]`): rows that look mis-encoded (kept, reported).
        rows (`int`): rows/lines read (before lower-casing merged duplicates).
    """

    words: frozenset[str]
    source: str
    spec: str
    mojibake: tuple[str, ...] = ()
    rows: int = 0
    fingerprint: str = field(init=False)

    def __post_init__(self):
        digest = hashlib.sha256("\n".join(sorted(self.words)).encode()).hexdigest()[:16]
        object.__setattr__(self, "fingerprint", digest)

    @property
    def size(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.words

    def __len__(self) -> int:
        return len(self.words)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.words))

    def info(self) -> dict[str, Any]:
        """JSON-friendly summary for manifests and stats."""
        return {
            "spec": self.spec,
            "source": self.source,
            "size": self.size,
            "rows": self.rows,
            "fingerprint": self.fingerprint,
            "mojibake": list(self.mojibake),
            "has_number": NUMBER_TOKEN in self.words,
        }


def _looks_mojibake(word: str) -> bool:
    # U+FFFD is what a lossy decode leaves (the paper CSV has 4 such rows); Ã/Â/â€ are UTF-8 read as Latin-1.
    return "\ufffd" in word or "Ã" in word or "Â" in word or "â€" in word


def _from_words(raw: Iterable[str], source: str, spec: str) -> Vocabulary:
    words, bad, rows = set(), [], 0
    for item in raw:
        rows += 1
        word = normalize(item.strip())
        if not word:
            continue
        if _looks_mojibake(item):
            bad.append(word)
        words.add(word)
    return Vocabulary(frozenset(words), source=source, spec=spec, mojibake=tuple(bad), rows=rows)


def _read_text(path: Path) -> str:
    if not path.exists():
        raise UserError(
            f"vocabulary file {path} not found. Pass the paper's CSV, a one-word-per-line file or 'wordfreq:N', "
            "or set HF_SHRUNK_DATA_DIR to a data mirror (`hf-shrunk data mirror --to DIR`)."
        )
    if path.is_dir():
        raise UserError(f"vocabulary {path} is a directory; pass a CSV or a one-word-per-line file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except PermissionError as e:
        raise UserError(f"cannot read vocabulary file {path}: permission denied; check its permissions") from e
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise UserError(
            f"{path}:{line}: not valid UTF-8 (byte {e.object[e.start]:#04x}); re-encode the file as UTF-8, "
            f"e.g. `iconv -f latin1 -t utf-8 {path} > fixed.csv`"
        ) from e
    if not text.strip():
        raise UserError(f"vocabulary file {path} is empty")
    return text


def _read_csv_words(path: Path, text: str) -> Iterator[str]:
    # csv, not pandas: pandas' NA parsing turns the words "nan"/"null" into NaN and TRUE/FALSE into booleans.
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    names = [h.strip().lower() for h in header]
    if "word" not in names:
        raise UserError(f"{path}: no 'word' column in the CSV header {header}; expected ',word,frequency' (paper CSV)")
    col = names.index("word")
    for row in reader:
        if row:
            yield row[col] if col < len(row) else ""


def _wordfreq_words(n: int) -> Iterator[str]:
    import wordfreq

    seen: set[str] = set()
    for word in wordfreq.top_n_list("en", 3 * n + 1000):
        word = normalize(word)
        if word.isalpha() and word not in seen:
            seen.add(word)
            yield word
            if len(seen) == n:
                return


def load_vocab(spec: str | Path) -> Vocabulary:
    """Load a vocabulary.

    Args:
        spec (`str` or `Path`): ``wordfreq:N``; a ``.csv`` file with a ``word`` column (the paper's
            ``,word,frequency``); or a text file with one word per line (anything after the first whitespace
            on a line is ignored, so ``word<TAB>count`` files work).

    Returns:
        `Vocabulary`: normalised words. Duplicates after lower-casing (``TRUE``/``true``) are merged.

    Raises:
        `UserError`: missing/empty/unreadable file, a CSV without a ``word`` column, a bad ``wordfreq:N``.
    """
    spec = str(spec)
    if spec.startswith("wordfreq:"):
        count = spec.split(":", 1)[1]
        if not count.isdigit() or int(count) <= 0:
            raise ConfigError(f"vocabulary {spec!r}: expected 'wordfreq:N' with a positive integer N")
        vocab = _from_words(_wordfreq_words(int(count)), source="wordfreq", spec=spec)
        if vocab.size < int(count):
            raise UserError(f"wordfreq has only {vocab.size} alphabetic English words; ask for fewer ({spec})")
        return vocab
    path = Path(spec).expanduser()
    text = _read_text(path)
    if path.suffix.lower() == ".csv":
        raw: Iterable[str] = _read_csv_words(path, text)
    else:
        raw = (line.split()[0] for line in text.splitlines() if line.strip())
    vocab = _from_words(raw, source=str(path), spec=spec)
    if not vocab.words:
        raise UserError(f"vocabulary file {path} has no words")
    return vocab
