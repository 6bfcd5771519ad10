"""The offline fallback corpus: real Wikipedia text that ships inside a PyPI package (docs/design.md#data-tiers).

The gensim 4.4.0 wheel carries
``gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2``, a MediaWiki XML
export of early English Wikipedia articles (about 107 articles after redirects are skipped).
We download the wheel with ``pip download`` (it is never installed), read that member out of the zip, parse the
XML, strip the wiki markup ourselves (:func:`strip_wiki_markup`) and cache the articles as parquet under
``<artifact root>/fallback/gensim-enwiki/``, so the download happens once. The text is Wikipedia's: licensed
CC BY-SA (recorded in the cache manifest and in every corpus built from it).
"""

from __future__ import annotations

import bz2
import html
import io
import logging
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

from hf_shrunk.artifacts import Manifest, fingerprint, is_complete, sha256_file, stage_dir, staged_output
from hf_shrunk.config import UserError

logger = logging.getLogger(__name__)

GENSIM_VERSION = "4.4.0"
WHEEL_MEMBER = "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
LICENSE = "CC BY-SA 3.0 (English Wikipedia text; https://en.wikipedia.org/wiki/Wikipedia:Copyrights)"
CACHE_NAME = "gensim-enwiki"
EXTRACTOR_VERSION = 1  # bump when strip_wiki_markup changes, so caches and corpora are rebuilt
SPEC = {"package": f"gensim=={GENSIM_VERSION}", "member": WHEEL_MEMBER, "extractor": EXTRACTOR_VERSION}
FINGERPRINT = fingerprint(SPEC)

# Sections that hold lists of links and citations, not prose.
_SKIP_SECTIONS = {
    "see also",
    "references",
    "external links",
    "further reading",
    "notes",
    "bibliography",
    "sources",
    "footnotes",
}
_DROP_LINK_PREFIXES = ("file:", "image:", "category:", "media:")
_INTERWIKI_RE = re.compile(r"^[a-z]{2,3}(?:-[a-z]{2,8})?:")
_COMMENT_RE = re.compile(r"<!--.*?-->", re.S)
_DROP_ELEMENTS_RE = re.compile(
    r"<(ref|math|gallery|timeline|source|syntaxhighlight|score|imagemap|references|nowiki)\b[^>]*?(?:/>|>.*?</\1\s*>)",
    re.S | re.I,
)
_EXT_LINK_RE = re.compile(r"\[(?:https?:|ftp:)?//[^\s\]]+\s*([^\]]*)\]")
_EMPHASIS_RE = re.compile(r"'{2,}")
_HEADING_RE = re.compile(r"^(=+)\s*(.*?)\s*\1\s*$")
_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>")
_MAGIC_RE = re.compile(r"__[A-Z]+__")
_LIST_RE = re.compile(r"^[*#:;]+\s*")
_SPACES_RE = re.compile(r"[ \t\u00a0]+")


def _remove_nested(text: str, open_tok: str, close_tok: str) -> str:
    """Remove every outermost ``open_tok ... close_tok`` span, allowing nesting; an unclosed span runs to the end."""
    out, depth, pos = [], 0, 0
    pattern = re.compile(re.escape(open_tok) + "|" + re.escape(close_tok))
    for m in pattern.finditer(text):
        if m.group() == open_tok:
            if depth == 0:
                out.append(text[pos : m.start()])
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                pos = m.end()
    if depth == 0:
        out.append(text[pos:])
    return "".join(out)


def _render_links(text: str) -> str:
    """``[[target|label]]`` -> label, ``[[target]]`` -> target; File/Image/Category and interlanguage links
    (which may contain nested links in their captions) are removed."""
    out, depth, pos, begin = [], 0, 0, 0
    for m in re.finditer(r"\[\[|\]\]", text):
        if m.group() == "[[":
            if depth == 0:
                out.append(text[pos : m.start()])
                begin = m.start()
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                inner = text[begin + 2 : m.start()]
                target = inner.split("|", 1)[0].strip().lower()
                if not (target.startswith(_DROP_LINK_PREFIXES) or _INTERWIKI_RE.match(target)):
                    rendered = _render_links(inner) if "[[" in inner else inner
                    out.append(rendered.rsplit("|", 1)[-1])
                pos = m.end()
    out.append(text[pos:] if depth == 0 else "")
    return "".join(out)


def _drop_reference_sections(lines: list[str]) -> list[str]:
    out, skip_level = [], 0
    for line in lines:
        heading = _HEADING_RE.match(line)
        if heading:
            level = len(heading.group(1))
            if skip_level and level > skip_level:
                continue
            skip_level = level if heading.group(2).strip().lower() in _SKIP_SECTIONS else 0
        if not skip_level:
            out.append(line)
    return out


def strip_wiki_markup(wikitext: str) -> str:
    """Plain text of a MediaWiki article: one paragraph (or heading, or list item) per line.

    Removes comments, references and other non-prose elements, templates ``{{...}}`` and tables ``{|...|}``
    (nested), File/Image/Category and interlanguage links, bold/italic quotes, HTML tags, magic words, list
    markers and the "See also"/"References"/"External links"/... sections; renders ``[[link|text]]`` as text,
    ``[http://x text]`` as text and ``== Heading ==`` as a line ``Heading``; decodes HTML entities.

    Args:
        wikitext (`str`): the article source.

    Returns:
        `str`: the text, lines stripped, blank lines removed.
    """
    text = _COMMENT_RE.sub("", wikitext)
    text = _DROP_ELEMENTS_RE.sub("", text)
    text = _remove_nested(text, "{{", "}}")
    text = _remove_nested(text, "{|", "|}")
    text = _render_links(text)
    text = _EXT_LINK_RE.sub(lambda m: m.group(1), text)
    text = _MAGIC_RE.sub("", _TAG_RE.sub("", _EMPHASIS_RE.sub("", text)))
    lines = []
    for line in _drop_reference_sections(text.split("\n")):
        heading = _HEADING_RE.match(line)
        line = heading.group(2) if heading else _LIST_RE.sub("", line)
        line = _SPACES_RE.sub(" ", html.unescape(line)).strip()
        if line and not line.startswith(("|", "!", "{", "}")):
            lines.append(line)
    return "\n".join(lines)


def parse_mediawiki(xml: bytes) -> Iterator[tuple[str, str]]:
    """``(title, wikitext)`` of the main-namespace, non-redirect pages of a MediaWiki XML export."""
    for _, elem in ElementTree.iterparse(io.BytesIO(xml)):
        if not elem.tag.endswith("}page"):
            continue
        ns = title = text = None
        redirect = False
        for child in elem.iter():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "ns":
                ns = child.text
            elif tag == "title":
                title = child.text
            elif tag == "redirect":
                redirect = True
            elif tag == "text":
                text = child.text or ""
        if ns == "0" and not redirect and title and text and not text.lstrip().lower().startswith("#redirect"):
            yield title, text
        elem.clear()


def _download_wheel(into: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        f"gensim=={GENSIM_VERSION}",
        "-d",
        str(into),
    ]
    logger.info("fallback corpus: downloading the gensim %s wheel from PyPI (once; about 28 MB)", GENSIM_VERSION)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError(f"could not run `{' '.join(cmd)}`: {e}") from e
    wheels = sorted(into.glob(f"gensim-{GENSIM_VERSION}-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise UserError(
            "could not download the gensim wheel that carries the offline fallback corpus: "
            + " | ".join(tail)
            + ". Provide text another way: set HF_SHRUNK_DATA_DIR to a data mirror (`hf-shrunk data mirror`) "
            "or pass txt/jsonl/parquet files with --sources."
        )
    return wheels[0]


def fallback_corpus(root: str | Path | None = None) -> Path:
    """The cached fallback articles (parquet: ``text`` = title line + paragraphs, ``title``, ``source``),
    extracted on first use.

    Args:
        root (`str`, *optional*): artifact root (default: ``$HF_SHRUNK_HOME``).

    Returns:
        `Path`: the parquet file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = stage_dir("fallback", CACHE_NAME, root)
    path = folder / "articles.parquet"
    if is_complete(folder) and path.is_file():
        return path
    with staged_output(folder) as staging, tempfile.TemporaryDirectory(dir=staging) as tmp:
        wheel = _download_wheel(Path(tmp))
        try:
            with zipfile.ZipFile(wheel) as z:
                xml = bz2.decompress(z.read(WHEEL_MEMBER))
        except (KeyError, zipfile.BadZipFile, OSError) as e:
            raise UserError(
                f"{wheel.name} does not hold {WHEEL_MEMBER} ({e}); the fallback corpus is unavailable"
            ) from e
        titles, texts = [], []
        for title, wikitext in parse_mediawiki(xml):
            body = strip_wiki_markup(wikitext)
            if body:
                titles.append(title)
                texts.append(f"{title}\n{body}")
        table = pa.table({"text": texts, "title": titles, "source": ["wikipedia (gensim test data)"] * len(texts)})
        pq.write_table(table, staging / "articles.parquet")
        words = sum(len(t.split()) for t in texts)
        extra = {
            "articles": len(texts),
            "words": words,
            "license": LICENSE,
            "wheel": wheel.name,
            "wheel_sha256": sha256_file(wheel),
        }
        Manifest("fallback", CACHE_NAME, config=SPEC, extra=extra).write(staging)
    logger.info("fallback corpus: %d Wikipedia articles, %d words, cached in %s", len(texts), words, folder)
    return path
