"""The byte-level BPE tokenizer: RoBERTa layout, complete HF save, identical encodings in a fresh process."""

import json
import subprocess
import sys

import pytest
from conftest import make_corpus_artifact, subprocess_env, synthetic_sentences

from hf_shrunk.artifacts import ArtifactError, Manifest
from hf_shrunk.tokenizer import main as tokenizer_main

SENTENCES = [
    "the big dog sees the little cat .",
    "The Big Dog Sees The Little Cat!",  # casing is folded: the corpus and models are lower-case
    "where is the <mask> ?",
    "mom said: \"it's 5 o'clock, time for the park\" — zebra xylophone",
    "ünïcödé and emoji 🐶 survive byte-level bpe",
    "",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("tok")
    make_corpus_artifact(root, n_train=600)
    assert tokenizer_main(["--root", str(root), "--vocab_size", "300"]) == 0
    return root / "tokenizer" / "default"


def test_roberta_layout(trained):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(trained)
    assert [tok.convert_tokens_to_ids(t) for t in ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]] == [0, 1, 2, 3, 4]
    assert len(tok) == 300 and tok.model_max_length == 128
    single = tok("the cat")["input_ids"]
    assert single[0] == 0 and single[-1] == 2
    pair = tok("the cat", "the dog")["input_ids"]
    assert pair.count(2) == 3 and pair[0] == 0  # <s> A </s></s> B </s>
    # <mask> absorbs the space before it, as RoBERTa's does
    ids = tok("the <mask> sees")["input_ids"]
    assert 4 in ids and tok.convert_ids_to_tokens(ids[ids.index(4) - 1]) != "Ġ"
    assert tok("The Dog")["input_ids"] == tok("the dog")["input_ids"]
    batch = tok(["the cat", "the big dog sees the cat"], padding=True)
    assert batch["input_ids"][0][-1] == 1 and batch["attention_mask"][0][-1] == 0
    assert tok.decode(tok("the cat sees 🐶")["input_ids"], skip_special_tokens=True) == "the cat sees 🐶"


def test_fresh_process_gives_identical_encodings(trained):
    from transformers import AutoTokenizer

    here = AutoTokenizer.from_pretrained(trained)
    expected = [here(s)["input_ids"] for s in SENTENCES] + [here(SENTENCES[0], SENTENCES[3])["input_ids"]]
    code = (
        "import json, sys\nfrom transformers import AutoTokenizer\n"
        "tok = AutoTokenizer.from_pretrained(sys.argv[1]); s = json.loads(sys.argv[2])\n"
        "print(json.dumps([tok(x)['input_ids'] for x in s] + [tok(s[0], s[3])['input_ids']]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(trained), json.dumps(SENTENCES)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=True,
    ).stdout
    assert json.loads(out) == expected


def test_manifest_stats_and_skip(trained, capsys):
    manifest = Manifest.read(trained)
    assert manifest.inputs[0]["kind"] == "corpus"
    stats = json.loads((trained / "stats.json").read_text())
    assert stats["vocab_size"] == 300 and stats["train_megabytes_per_second"] > 0
    assert 1.0 <= stats["validation"]["tokens_per_word"] < 3.0
    root = trained.parent.parent
    assert tokenizer_main(["--root", str(root), "--vocab_size", "300"]) == 0
    assert "up to date" in capsys.readouterr().out
    with pytest.raises(ArtifactError, match="--overwrite"):
        tokenizer_main(["--root", str(root), "--vocab_size", "301"])


def test_missing_corpus_names_the_command(tmp_path):
    with pytest.raises(ArtifactError, match="hf-shrunk corpus"):
        tokenizer_main(["--root", str(tmp_path)])


def test_train_tokenizer_is_deterministic():
    from hf_shrunk.tokenizer import train_tokenizer

    a = train_tokenizer(synthetic_sentences(300), vocab_size=280, show_progress=False)
    b = train_tokenizer(synthetic_sentences(300), vocab_size=280, show_progress=False)
    assert a.get_vocab() == b.get_vocab()
