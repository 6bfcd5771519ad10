"""The card of ``<org>/glue-vocab-filtered``: the GLUE dev sets restricted to the models' vocabulary, one config per
task (the nyu-mll/glue layout), with the filter rule, the vocabulary's fingerprint and the kept/total counts."""

from typing import Any

from hf_shrunk.cards.dataset import validate_dataset_card
from hf_shrunk.cards.model import PAPER_ARXIV, PAPER_BIBTEX, PAPER_TITLE, PAPER_URL, environment
from hf_shrunk.sources import GLUE_REPO


def filtered_glue_context(
    repo_id: str, tasks: dict[str, dict[str, Any]], files: dict[str, dict[str, str]], model_repos: list[str]
) -> dict[str, Any]:
    """What the card shows. ``tasks``: ``{task: counts.json}`` as ``hf-shrunk glue`` exports them (one vocabulary);
    ``files``: ``{task: {split: path in the repo}}``; ``model_repos``: the models whose filtered results point here."""
    vocab = next(iter(tasks.values()))["vocab"]
    rows = [
        {"task": task, "split": split, **n, "share": n["kept"] / n["total"] if n["total"] else None}
        for task, counts in tasks.items()
        for split, n in counts["splits"].items()
    ]
    return {
        "repo_id": repo_id,
        "repo_name": repo_id.split("/")[-1],
        "files": files,
        "rows": rows,
        "vocab": vocab,
        "example_task": next(iter(files), None),
        "model_repos": model_repos,
        "glue_repo": GLUE_REPO,
        "paper_url": PAPER_URL,
        "paper_title": PAPER_TITLE,
        "bibtex": PAPER_BIBTEX,
    }


def _card_data(context: dict[str, Any]) -> Any:
    from huggingface_hub import DatasetCardData

    return DatasetCardData(
        language=["en"],
        license="other",  # each GLUE task keeps its own licence, as in nyu-mll/glue
        license_name="glue-task-licenses",
        license_link=f"https://huggingface.co/datasets/{GLUE_REPO}",
        source_datasets=[GLUE_REPO],
        pretty_name="GLUE dev sets within a child-directed vocabulary",
        task_categories=["text-classification"],
        tags=["hf_shrunk", "child-directed-vocabulary", "glue", f"arxiv:{PAPER_ARXIV}"],
        configs=[
            {"config_name": task, "data_files": [{"split": s, "path": p} for s, p in splits.items()]}
            for task, splits in context["files"].items()
        ],
    )


def render_filtered_glue_card(context: dict[str, Any]) -> str:
    """The README.md of the filtered-GLUE repo, checked with the parsers ``load_dataset`` uses."""
    data = _card_data(context)
    text = environment().get_template("glue_filtered_card.md.j2").render(card_yaml=data.to_yaml(), **context)
    expected = {task: list(splits) for task, splits in context["files"].items()}
    validate_dataset_card(text, expected, where=context["repo_id"])
    return text
