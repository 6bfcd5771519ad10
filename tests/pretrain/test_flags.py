"""Flags mean what they say (issue "The paths real users take", item 7): TrainingArguments the pretraining recipe
derives are refused with the flag to use instead, --push_to_hub points at `hf-shrunk publish`, --report_to
tensorboard writes event files offline, and GLUE accepts TrainingArguments' names for the same settings."""

import pytest
from conftest import TEST_GRID, make_training_root

from hf_shrunk.config import ConfigError, parse_config
from hf_shrunk.glue import GlueConfig

SLUG = "factorized-e32-h32-i128-a4-l2"


@pytest.mark.parametrize(
    ("flag", "hint"),
    [
        (["--per_device_train_batch_size", "8"], "--effective_batch_size"),
        (["--gradient_accumulation_steps=4"], "--effective_batch_size"),
        (["--warmup-ratio", "0.1"], "--warmup N"),
        (["--warmup_steps", "10"], "--warmup N"),
        (["--output_dir", "/tmp/x"], "--root and --name"),
        (["--bf16"], "--precision bf16"),
        (["--push_to_hub"], "hf-shrunk publish --org ORG"),
    ],
)
def test_recipe_owned_flags_are_refused_with_the_flag_to_use(tmp_path, flag, hint):
    from hf_shrunk.pretrain import train_main

    with pytest.raises(ConfigError, match="is set by this command") as caught:
        train_main(["--root", str(tmp_path), "--size", SLUG, *flag])
    named = "--" + flag[0][2:].split("=")[0].replace("-", "_")
    assert hint in str(caught.value) and str(caught.value).startswith(named)
    assert not (tmp_path / "pretrain").exists()  # refused before anything was written


def test_recipe_owned_keys_in_a_config_file_are_refused_naming_the_file(tmp_path):
    from hf_shrunk.pretrain import train_main

    config = tmp_path / "mine.yaml"
    config.write_text("learning_rate: 1.0e-3\nwarmup_ratio: 0.1\n")
    with pytest.raises(ConfigError, match=rf"warmup_ratio \(in {config}\) is set by this command"):
        train_main(["--root", str(tmp_path), "--size", SLUG, "--config", str(config)])


def test_glue_takes_training_arguments_names_as_aliases():
    (cfg,) = parse_config(
        [GlueConfig],
        ["m", "--per_device_train_batch_size", "16", "--num_train_epochs", "2", "--max_seq_length", "64",
         "--per_device_eval_batch_size", "8", "--precision", "bf16"],
        positional="model",
    )  # fmt: skip
    assert (cfg.batch_size, cfg.num_epochs, cfg.max_length, cfg.eval_batch_size) == (16, 2.0, 64, 8)
    assert cfg.precision == "bf16"
    with pytest.raises(ConfigError, match="--precision must be fp32 or bf16"):
        GlueConfig(model="m", precision="fp16")


@pytest.mark.slow
def test_report_to_tensorboard_writes_event_files_offline(tmp_path):
    from test_pretrain import args_for

    from hf_shrunk.config import CONFIG_DIR
    from hf_shrunk.pretrain import train_main

    make_training_root(tmp_path, n_train=400, n_eval=64)
    argv = args_for(tmp_path, "tb", "--report_to", "tensorboard")
    argv[argv.index("--max_steps") + 1] = "4"
    assert str(TEST_GRID) in argv and str(CONFIG_DIR / "pretrain_demo.yaml") in argv
    assert train_main(argv) == 0
    events = list((tmp_path / "pretrain" / "tb").rglob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)


@pytest.mark.parametrize(("precision", "computed_in"), [("bf16", "bfloat16"), ("fp32", "float32")])
def test_precision_is_what_the_trainer_computes_in(tmp_path, monkeypatch, precision, computed_in):
    """--precision reaches the Trainer's autocast, whatever the accelerate config exports (here the opposite):
    setting TrainingArguments.bf16 after construction alone was recorded but ignored, so every run trained in fp32."""
    import datasets
    import torch
    from transformers import Trainer, TrainingArguments

    from hf_shrunk.models import Size, build_config, build_model
    from hf_shrunk.pretrain import choose_precision

    # what `accelerate launch` exports from its config (`mixed_precision: 'no'` in every packaged one)
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no" if precision == "bf16" else "bf16")
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, max_steps=1, report_to="none", save_strategy="no")
    choose_precision(type("Cfg", (), {"precision": precision}), args)
    model = build_model(build_config(Size("roberta", 32, 32, 64, 1, 1), vocab_size=40), seed=0)
    dtypes = []
    model.roberta.encoder.layer[0].intermediate.dense.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    ids = torch.randint(5, 40, (4, 16))
    data = datasets.Dataset.from_dict({"input_ids": ids.tolist(), "labels": ids.tolist()})
    Trainer(model=model, args=args, train_dataset=data).train()
    assert dtypes and {str(d).removeprefix("torch.") for d in dtypes} == {computed_in}
    assert args.bf16 is (precision == "bf16")
