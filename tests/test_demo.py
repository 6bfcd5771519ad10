"""`hf-shrunk demo --smoke` on the real-data mirror: every stage runs, the publish folder appears, a re-run skips."""

import json

import pytest

pytestmark = [pytest.mark.data, pytest.mark.slow]


def test_smoke_demo_end_to_end_and_rerun(mirror_dir, tmp_path, capsys):
    from hf_shrunk.demo import main

    root = tmp_path / "demo"
    assert main(["--smoke", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    slugs = ["factorized-e8-h16-i32-a2-l1", "factorized-e64-h128-i256-a4-l2", "roberta-h128-i512-a4-l4"]
    for slug in slugs:
        assert (root / "pretrain" / slug / "manifest.json").is_file()
        summary = json.loads((root / "glue" / slug / "summary.json").read_text())
        assert set(summary["variants"]) == {"pretrained", "random-init"}
        assert set(summary["variants"]["pretrained"]) == {"filtered", "full"}
        assert (root / "publish" / "models" / f"shrunk-{slug}" / "main" / "README.md").is_file()
    assert (root / "publish" / "datasets" / "shrunk-corpus" / "main" / "README.md").is_file()
    assert (root / "fit" / "default" / "loss_vs_compute.png").stat().st_size > 10_000
    assert "GLUE (x100" in out and "publish folder:" in out
    for slug in slugs:  # the summary table has one line per size
        assert slug in out.split("GLUE (x100")[0]
    assert main(["--smoke", "--root", str(root)]) == 0  # everything finished: skipped, not redone
    assert "already trained" in capsys.readouterr().out
