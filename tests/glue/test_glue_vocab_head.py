"""The GLUE stage's vocabulary is the model's (``--vocab model``), and the paper's factorized head (``--head paper``):
hf_shrunk.glue.model_vocab, hf_shrunk.glue.heads, ShrunkPoolingClassificationHead."""

import json

import pytest
from conftest import make_glue_dir, synthetic_sentences

from hf_shrunk.artifacts import Manifest, read_json, stage_dir
from hf_shrunk.config import ConfigError, UserError
from hf_shrunk.glue import GlueConfig, run_glue
from hf_shrunk.glue.model_vocab import (
    TRAINING_MANIFEST,
    choose_vocab,
    load_recorded,
    model_vocab,
    vocab_of_manifest,
)
from hf_shrunk.glue.run import ModelRef, result_path
from hf_shrunk.vocab import load_vocab

FACTORIZED = ("factorized", 16, 32, 64, 4, 2)
ROBERTA = ("roberta", 32, 32, 64, 2, 1)
OTHER = "wordfreq:3000"  # another word list than the model's


def _save_model(folder, size, tokenizer):
    from hf_shrunk.models import Size, build_config, build_model, save_model

    save_model(build_model(build_config(Size(*size), tokenizer), seed=0), folder, tokenizer)
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_tokenizer):
    """A corpus filtered with a small word list, a 'pretrain run' trained on it (the manifest that names the corpus and
    an untrained factorized model), a roberta model and a small GLUE folder."""
    from hf_shrunk.corpus import CorpusConfig, build_corpus

    tmp = tmp_path_factory.mktemp("vocab_head")
    root = tmp / "art"
    sentences = synthetic_sentences(300)
    (tmp / "vocab.txt").write_text("\n".join(sorted({w for s in sentences for w in s.split() if w != "."})))
    (tmp / "docs.txt").write_text("\n".join(sentences) + "\n")
    corpus, _, _ = build_corpus(
        CorpusConfig(root=str(root), vocab=str(tmp / "vocab.txt"), sources=[str(tmp / "docs.txt")],
                     sentence_min_tokens=2, validation_size="2", test_size="2", contamination=False),
        progress=False,
    )  # fmt: skip
    run = stage_dir("pretrain", "tiny", root)
    _save_model(run / "model", FACTORIZED, tiny_tokenizer)
    inputs = [{"kind": "corpus", "path": str(corpus), "fingerprint": Manifest.read(corpus).key}]
    Manifest("pretrain", "tiny", {"size": "tiny"}, inputs).write(run)
    return {
        "root": root,
        "model": run / "model",
        "roberta": _save_model(tmp / "roberta", ROBERTA, tiny_tokenizer),
        "glue": make_glue_dir(tmp / "glue"),
        "vocab": load_vocab(tmp / "vocab.txt"),
        "corpus": corpus,
    }


def _cfg(world, **overrides) -> GlueConfig:
    values = dict(model=str(world["model"]), root=str(world["root"]), data_dir=str(world["glue"]), tasks=["sst2"],
                  seeds=["0"], condition="filtered", num_epochs=1.0, max_train_samples=16,
                  max_eval_samples=16)  # fmt: skip
    return GlueConfig(**(values | overrides))


def _ref(world, key="model") -> ModelRef:
    return ModelRef("dir", str(world[key]), None, key, key)


# ------------------------------------------------------------------ item 7: the filter's vocabulary is the model's


def test_filter_vocabulary_is_the_one_the_model_was_trained_on(world):
    summary = run_glue(_cfg(world))  # default --vocab model
    vocab = summary["vocab"]
    assert vocab["fingerprint"] == world["vocab"].fingerprint != load_vocab(OTHER).fingerprint
    assert (vocab["requested"], vocab["matches_model"]) == ("model", True)
    assert vocab["recorded_in"].endswith(f"{world['corpus'] / 'manifest.json'}")
    assert summary["vocabulary"]["fingerprint"] == world["vocab"].fingerprint
    folder = stage_dir("glue", "model", world["root"])
    record = json.loads(result_path(folder, "pretrained", "filtered", "sst2", 0).read_text())
    assert record["vocab"] == vocab and record["hyperparameters"]["vocab"] == "model"
    assert summary["variants"]["pretrained"]["filtered"]["tasks"]["sst2"]["n_eval"] == {"validation": 16}


def test_another_vocabulary_must_be_asked_for_and_is_recorded(world):
    with pytest.raises(UserError, match=r"--vocab wordfreq:3000 .* is not the vocabulary .* --allow_vocab_mismatch"):
        run_glue(_cfg(world, vocab=OTHER, name="other"))
    assert not (stage_dir("glue", "other", world["root"]) / "results").exists()  # refused before any work
    chosen = choose_vocab(OTHER, _ref(world), str(world["root"]), allow_mismatch=True)
    assert chosen.fingerprint == load_vocab(OTHER).fingerprint
    assert chosen.record["matches_model"] is False and chosen.record["model_fingerprint"] == world["vocab"].fingerprint
    same = choose_vocab(str(world["vocab"].source), _ref(world), str(world["root"]))  # the same words, asked for
    assert same.record["matches_model"] is True


def test_a_model_without_a_recorded_vocabulary(world, tmp_path):
    ref = _ref(world, "roberta")  # a model folder with no run manifest anywhere near it
    assert model_vocab(ref, str(tmp_path)) is None
    with pytest.raises(UserError, match="cannot tell which vocabulary .* --vocab auto"):
        choose_vocab("model", ref, str(tmp_path))
    assert choose_vocab(OTHER, ref, str(tmp_path)).record["matches_model"] is None


def test_published_training_manifest_records_the_vocabulary(world, tmp_path):
    """publish writes the run manifest as training_manifest.json, with the corpus's vocabulary in ``extra.vocab``
    and paths made public; GLUE on a downloaded (or --to_dir) folder follows it."""
    from hf_shrunk.publish.plan import public_paths, with_vocab

    manifest = with_vocab(Manifest.read(world["model"].parent).to_dict())
    assert manifest["extra"]["vocab"]["fingerprint"] == world["vocab"].fingerprint
    folder = tmp_path / "main"
    folder.mkdir()
    (folder / TRAINING_MANIFEST).write_text(json.dumps(public_paths(manifest, world["root"])))
    (folder / "config.json").write_text("{}")
    recorded = model_vocab(ModelRef("dir", str(folder), None, "main", "main"), str(tmp_path / "elsewhere"))
    assert recorded.fingerprint == world["vocab"].fingerprint and recorded.recorded_in.endswith(TRAINING_MANIFEST)
    # without extra.vocab (published before it existed): found through a local corpus with the recorded key
    del manifest["extra"]["vocab"]
    public = public_paths(manifest, world["root"])
    assert vocab_of_manifest(public, "x", str(tmp_path)) is None
    assert vocab_of_manifest(public, "x", str(world["root"])).fingerprint == world["vocab"].fingerprint


def test_recorded_word_lists_are_loaded_again_and_checked():
    vocab = load_vocab("wordfreq:500")
    recorded = vocab_of_manifest({"extra": {"vocab": {"spec": "wordfreq:500", "fingerprint": vocab.fingerprint}}}, "m")
    assert load_recorded(recorded, "m").fingerprint == vocab.fingerprint
    wrong = vocab_of_manifest({"extra": {"vocab": {"spec": "wordfreq:500", "fingerprint": "0" * 16}}}, "m")
    with pytest.raises(UserError, match=r"no copy of it was found: tried 'wordfreq:500' \(other words"):
        load_recorded(wrong, "m")


# ------------------------------------------------------------------ item 8: the paper's factorized GLUE head


def test_paper_head_pools_128_positions_and_regression_is_non_negative(tiny_tokenizer):
    import torch

    from hf_shrunk.models import Size, build_config, build_model

    config = build_config(Size(*FACTORIZED), tiny_tokenizer, classifier_head="paper", num_labels=1)
    config.problem_type = "regression"
    model = build_model(config, task="classification", seed=0)
    pooler, out = model.classifier.pooler, model.classifier.out_proj
    assert isinstance(pooler, torch.nn.Linear) and (pooler.in_features, pooler.out_features) == (128, 1)
    assert (out.in_features, out.out_features) == (32, 1)
    torch.manual_seed(0)
    ids = torch.randint(5, config.vocab_size, (8, 128))
    labels = torch.rand(8) * 5
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(5):  # a few training steps: MSE on a ReLU output
        output = model(input_ids=ids, labels=labels)
        assert torch.all(output.logits >= 0) and torch.isfinite(output.loss)
        output.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    with pytest.raises(ValueError, match="pad every input to 128 tokens"):
        model(input_ids=ids[:, :20])
    roberta_head = build_model(build_config(Size(*FACTORIZED), tiny_tokenizer), task="classification")
    assert type(roberta_head.classifier).__name__ == "RobertaClassificationHead"  # the default


def test_glue_with_the_paper_head(world):
    summary = run_glue(_cfg(world, head="paper", tasks=["stsb", "sst2"], condition="full", name="paper-head"))
    assert (summary["head"]["name"], summary["head"]["positions"]) == ("paper", 128)
    assert set(summary["variants"]["pretrained"]["full"]["tasks"]) == {"stsb", "sst2"}
    folder = stage_dir("glue", "paper-head", world["root"])
    record = read_json(result_path(folder, "pretrained", "full", "stsb", 0))
    assert record["hyperparameters"]["head"] == "paper" and record["hyperparameters"]["pad_to_max_length"] is True
    assert run_glue(_cfg(world, condition="full", name="default-head"))["head"]["name"] == "roberta"


def test_paper_head_is_refused_for_the_roberta_family(world):
    with pytest.raises(ConfigError, match="--head paper is the head of the paper's factorized runs"):
        run_glue(_cfg(world, model=str(world["roberta"]), head="paper", condition="full", name="roberta-paper"))
    with pytest.raises(ConfigError, match="--head must be"):
        GlueConfig(head="pooling")
