"""Round trips through the fake Hub (tests/fakehub) with the real huggingface_hub, transformers and datasets clients.

Expected values are derived independently of the server: git blob sha1 / sha256 computed here with hashlib,
bytes and logits compared with what was uploaded.
"""

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.hub


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture()
def model_folder(tmp_path):
    """A small model folder: safetensors weights (LFS on the Hub), a json config and a README (regular files)."""
    import numpy as np
    from safetensors.numpy import save_file

    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    save_file({"w": np.arange(300, dtype=np.float32).reshape(10, 30)}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"model_type": "toy", "hidden": 4}))
    (folder / "README.md").write_text("---\nlicense: mit\ntags:\n- toy\n---\n# Toy\n")
    (folder / "sub" / "notes.txt").write_text("nested file\n")
    return folder


def test_model_repo_upload_info_download(fakehub, model_folder):
    from huggingface_hub import HfFileSystem, get_hf_file_metadata, hf_hub_download, hf_hub_url, snapshot_download

    api, repo_id = fakehub.api, f"{fakehub.user}/toy"
    assert api.create_repo(repo_id).repo_id == repo_id
    commit = api.upload_folder(repo_id=repo_id, folder_path=model_folder, commit_message="add toy")
    weights = (model_folder / "model.safetensors").read_bytes()
    config = (model_folder / "config.json").read_bytes()

    info = api.model_info(repo_id, files_metadata=True)
    assert info.sha == commit.oid and info.private is False
    siblings = {s.rfilename: s for s in info.siblings}
    assert set(siblings) == {".gitattributes", "README.md", "config.json", "model.safetensors", "sub/notes.txt"}
    assert siblings["model.safetensors"].lfs.sha256 == hashlib.sha256(weights).hexdigest()
    assert siblings["config.json"].lfs is None and siblings["config.json"].blob_id == git_sha1(config)
    assert info.card_data.license == "mit" and info.tags == ["toy"]
    assert sorted(api.list_repo_files(repo_id)) == sorted(siblings)

    top = {entry.path: type(entry).__name__ for entry in api.list_repo_tree(repo_id)}
    assert top == {
        ".gitattributes": "RepoFile",
        "README.md": "RepoFile",
        "config.json": "RepoFile",
        "model.safetensors": "RepoFile",
        "sub": "RepoFolder",
    }
    assert [e.path for e in api.list_repo_tree(repo_id, path_in_repo="sub")] == ["sub/notes.txt"]
    paths = api.get_paths_info(repo_id, ["model.safetensors", "sub", "missing.txt"], expand=True)
    assert [p.path for p in paths] == ["model.safetensors", "sub"]
    assert paths[0].size == len(weights) and paths[0].last_commit.oid == commit.oid

    downloaded = hf_hub_download(repo_id, "model.safetensors")
    assert Path(downloaded).read_bytes() == weights
    meta = get_hf_file_metadata(hf_hub_url(repo_id, "model.safetensors"))
    assert (meta.etag, meta.commit_hash, meta.size) == (hashlib.sha256(weights).hexdigest(), commit.oid, len(weights))
    meta = get_hf_file_metadata(hf_hub_url(repo_id, "config.json"))
    assert (meta.etag, meta.size) == (git_sha1(config), len(config))
    assert api.file_exists(repo_id, "sub/notes.txt") and not api.file_exists(repo_id, "nope.txt")
    snapshot = Path(snapshot_download(repo_id))
    assert (snapshot / "sub" / "notes.txt").read_bytes() == (model_folder / "sub" / "notes.txt").read_bytes()

    # Range reads (HfFileSystem reads files in ranges) and a raw 206 answer.
    with HfFileSystem(endpoint=fakehub.endpoint).open(f"{repo_id}/model.safetensors", "rb", block_size=64) as f:
        f.seek(100)
        assert f.read(50) == weights[100:150]
    request = urllib.request.Request(f"{fakehub.endpoint}/{repo_id}/resolve/main/config.json")
    request.add_header("Range", "bytes=2-5")
    with urllib.request.urlopen(request) as response:
        assert response.status == 206 and response.read() == config[2:6]


def test_reupload_commits_and_uploads_nothing_new(fakehub, model_folder):
    api, repo_id = fakehub.api, f"{fakehub.org}/toy"
    api.create_repo(repo_id)
    first = api.upload_folder(repo_id=repo_id, folder_path=model_folder)
    assert len(fakehub.requests("PUT", "/_fakehub/lfs/")) == 1
    # The client compares preupload's remote oids with its own and skips the commit when nothing changed.
    again = api.upload_folder(repo_id=repo_id, folder_path=model_folder)
    assert again.oid == first.oid
    assert len(api.list_repo_commits(repo_id)) == 2  # initial commit + first upload
    assert len(fakehub.requests("PUT", "/_fakehub/lfs/")) == 1
    # A changed regular file makes a commit with it alone; the unchanged LFS object is not uploaded again.
    (model_folder / "config.json").write_text("{}")
    third = api.upload_folder(repo_id=repo_id, folder_path=model_folder)
    assert third.oid != first.oid
    assert len(fakehub.requests("PUT", "/_fakehub/lfs/")) == 1
    assert api.list_repo_commits(repo_id)[0].commit_id == third.oid


def test_delete_and_copy_operations(fakehub, model_folder):
    from huggingface_hub import CommitOperationCopy, CommitOperationDelete, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    api, repo_id = fakehub.api, f"{fakehub.user}/ops"
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=model_folder)
    api.create_commit(
        repo_id,
        [
            CommitOperationCopy("model.safetensors", "copies/model.safetensors"),
            CommitOperationCopy("config.json", "copies/config.json"),
            CommitOperationDelete("sub/"),
            CommitOperationDelete("README.md"),
        ],
        commit_message="copy and delete",
    )
    files = sorted(api.list_repo_files(repo_id))
    assert files == [
        ".gitattributes",
        "config.json",
        "copies/config.json",
        "copies/model.safetensors",
        "model.safetensors",
    ]
    copied = Path(hf_hub_download(repo_id, "copies/model.safetensors")).read_bytes()
    assert copied == (model_folder / "model.safetensors").read_bytes()
    assert len(fakehub.requests("PUT", "/_fakehub/lfs/")) == 1  # the LFS copy reuses the stored object
    with pytest.raises(EntryNotFoundError):
        api.delete_file("README.md", repo_id)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "README.md")


def test_branches_tags_and_history(fakehub):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RevisionNotFoundError

    api, repo_id = fakehub.api, f"{fakehub.user}/history"
    api.create_repo(repo_id)
    main1 = api.upload_file(path_or_fileobj=b"v1", path_in_repo="data.txt", repo_id=repo_id, commit_message="v1")
    api.create_branch(repo_id, branch="step100")
    step = api.upload_file(path_or_fileobj=b"step", path_in_repo="data.txt", repo_id=repo_id, revision="step100")
    main2 = api.upload_file(path_or_fileobj=b"v2", path_in_repo="data.txt", repo_id=repo_id, commit_message="v2")
    api.create_tag(repo_id, tag="v1.0", revision=main1.oid)

    def read(revision):
        return Path(hf_hub_download(repo_id, "data.txt", revision=revision)).read_bytes()

    assert read("step100") == b"step" and read("main") == b"v2"
    assert read(main1.oid) == b"v1" and read("v1.0") == b"v1" and read(step.oid) == b"step"
    with pytest.raises(RevisionNotFoundError):
        read("no-such-branch")
    refs = api.list_repo_refs(repo_id)
    assert {b.name: b.target_commit for b in refs.branches} == {"main": main2.oid, "step100": step.oid}
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1.0", main1.oid)]
    commits = api.list_repo_commits(repo_id)
    assert [c.commit_id for c in commits[:2]] == [main2.oid, main1.oid] and len(commits) == 3
    assert [c.title for c in commits] == ["v2", "v1", "initial commit"] and commits[0].authors == [fakehub.user]
    assert len(api.list_repo_commits(repo_id, revision="step100")) == 3

    # A commit whose parent is no longer the head is refused (the client's optimistic locking).
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit(repo_id, [CommitOperationAdd("x.txt", b"x")], commit_message="late", parent_commit=main1.oid)
    assert err.value.response.status_code == 412
    api.delete_branch(repo_id, branch="step100")
    assert [b.name for b in api.list_repo_refs(repo_id).branches] == ["main"]


def _tiny_roberta(seed: int):
    import torch
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=100,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=40,
    )
    return RobertaForMaskedLM(config).eval()


def _tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    vocab = {token: i for i, token in enumerate(specials + [f"w{i}" for i in range(95)])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        mask_token="<mask>",
    )


def test_transformers_push_and_from_pretrained(fakehub):
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    repo_id = f"{fakehub.org}/tiny-roberta"
    model, tokenizer = _tiny_roberta(0), _tiny_tokenizer()
    model.push_to_hub(repo_id)
    tokenizer.push_to_hub(repo_id)
    fakehub.api.create_branch(repo_id, branch="step1")
    other = _tiny_roberta(1)
    other.push_to_hub(repo_id, revision="step1")

    assert fakehub.api.model_info(repo_id).siblings is not None
    loaded_tokenizer = AutoTokenizer.from_pretrained(repo_id)
    ids = loaded_tokenizer("w1 w2 w3 w94", return_tensors="pt")["input_ids"]
    assert ids.tolist() == tokenizer("w1 w2 w3 w94", return_tensors="pt")["input_ids"].tolist()
    with torch.no_grad():
        for revision, expected in (("main", model), ("step1", other)):
            loaded = AutoModelForMaskedLM.from_pretrained(repo_id, revision=revision).eval()
            torch.testing.assert_close(loaded(ids).logits, expected(ids).logits, rtol=0, atol=0)
        assert not torch.equal(model(ids).logits, other(ids).logits)


def test_datasets_push_and_load(fakehub):
    from datasets import Dataset, DatasetDict, load_dataset

    repo_id = f"{fakehub.user}/toy-corpus"
    original = DatasetDict(
        {
            "train": Dataset.from_dict({"text": [f"line {i}" for i in range(20)], "n": list(range(20))}),
            "validation": Dataset.from_dict({"text": ["a", "b"], "n": [1, 2]}),
        }
    )
    original.push_to_hub(repo_id)
    assert fakehub.api.dataset_info(repo_id).card_data is not None  # push_to_hub writes the split config there
    loaded = load_dataset(repo_id)
    assert set(loaded) == {"train", "validation"}
    for split in original:
        assert loaded[split].to_dict() == original[split].to_dict()


def test_model_card_round_trip(fakehub):
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    repo_id = f"{fakehub.user}/carded"
    fakehub.api.create_repo(repo_id)
    data = ModelCardData(
        license="apache-2.0",
        model_name="carded",
        eval_results=[
            EvalResult(
                task_type="fill-mask", dataset_type="toy", dataset_name="Toy", metric_type="loss", metric_value=1.25
            )
        ],
    )
    ModelCard.from_template(data, model_description="A card.").push_to_hub(repo_id)
    card = ModelCard.load(repo_id)
    assert card.data.license == "apache-2.0" and card.data.eval_results[0].metric_value == 1.25
    assert "A card." in card.text
    assert fakehub.api.model_info(repo_id).card_data.eval_results[0].metric_type == "loss"


def test_collections(fakehub):
    api = fakehub.api
    api.create_repo(f"{fakehub.org}/m")
    api.create_repo(f"{fakehub.org}/d", repo_type="dataset")
    collection = api.create_collection("Shrunk suite", namespace=fakehub.org, description="all sizes")
    assert collection.slug.startswith(f"{fakehub.org}/shrunk-suite-")
    api.add_collection_item(collection.slug, f"{fakehub.org}/m", "model", note="smallest")
    api.add_collection_item(collection.slug, f"{fakehub.org}/d", "dataset")
    api.add_collection_item(collection.slug, f"{fakehub.org}/d", "dataset", exists_ok=True)
    fetched = api.get_collection(collection.slug)
    assert [(i.item_id, i.item_type, i.note) for i in fetched.items] == [
        (f"{fakehub.org}/m", "model", "smallest"),
        (f"{fakehub.org}/d", "dataset", None),
    ]
    assert [c.slug for c in api.list_collections(owner=fakehub.org)] == [collection.slug]
    api.delete_collection(collection.slug)
    assert list(api.list_collections(owner=fakehub.org)) == []


def test_auth_and_private_repos(fakehub):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    assert fakehub.api.whoami()["name"] == fakehub.user
    bad = HfApi(endpoint=fakehub.endpoint, token="hf_not_a_valid_token")
    with pytest.raises(HfHubHTTPError, match="Invalid user token"):
        bad.whoami()
    with pytest.raises(HfHubHTTPError, match="Invalid credentials") as err:
        bad.create_repo(f"{fakehub.user}/x")
    assert err.value.response.status_code == 401

    fakehub.api.create_repo(f"{fakehub.user}/secret", private=True)
    assert fakehub.api.repo_info(f"{fakehub.user}/secret").private is True
    other = HfApi(endpoint=fakehub.endpoint, token=fakehub.other_token)
    anonymous = HfApi(endpoint=fakehub.endpoint, token=False)
    for client in (other, anonymous):
        with pytest.raises(RepositoryNotFoundError):
            client.repo_info(f"{fakehub.user}/secret")
        assert not client.repo_exists(f"{fakehub.user}/secret")
    with pytest.raises(HfHubHTTPError) as err:
        other.create_repo(f"{fakehub.org}/not-yours")
    assert err.value.response.status_code == 403
    fakehub.api.create_repo(f"{fakehub.user}/public")
    with pytest.raises(HfHubHTTPError) as err:
        other.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=f"{fakehub.user}/public")
    assert err.value.response.status_code == 403
    fakehub.api.delete_repo(f"{fakehub.user}/public")
    assert not fakehub.api.repo_exists(f"{fakehub.user}/public")


def test_unimplemented_route_is_recorded(fakehub):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{fakehub.endpoint}/api/made-up/route?x=1")
    assert err.value.code == 501
    assert fakehub.server.unimplemented == ["GET /api/made-up/route?x=1"]
    # Pull requests are not modelled: a clean 400 for the client, and recorded too.
    from huggingface_hub.errors import BadRequestError

    fakehub.api.create_repo(f"{fakehub.user}/pr")
    with pytest.raises(BadRequestError, match="create_pr"):
        fakehub.api.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id=f"{fakehub.user}/pr", create_pr=True)
    assert len(fakehub.server.unimplemented) == 2 and "pull requests" in fakehub.server.unimplemented[1]
    fakehub.server.unimplemented.clear()  # recorded: the fixture would otherwise fail this test at teardown

    # A request that crashes a handler is answered 501 (not 500, which clients retry) and recorded as well.
    malformed = urllib.request.Request(
        f"{fakehub.endpoint}/api/models/{fakehub.user}/pr/preupload/main",
        data=json.dumps({"files": [{"size": 1}]}).encode(),
        headers={"Authorization": f"Bearer {fakehub.token}", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(malformed)
    assert err.value.code == 501 and "KeyError: 'path'" in fakehub.server.errors[0]
    fakehub.server.errors.clear()


def test_subprocess_client(fakehub):
    repo_id = f"{fakehub.user}/private-sub"
    fakehub.api.create_repo(repo_id, private=True)
    fakehub.api.upload_file(path_or_fileobj=b"from the server", path_in_repo="f.txt", repo_id=repo_id)
    code = (
        "import sys; from huggingface_hub import hf_hub_download; "
        f"sys.stdout.write(open(hf_hub_download({repo_id!r}, 'f.txt'), 'rb').read().decode())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=fakehub.subprocess_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "from the server"


def test_clients_are_offline_again_outside_the_fixture(fakehub_server):
    """Runs after the tests above (file order): the fixture must have restored the hermetic offline mode."""
    import datasets.config
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    assert constants.HF_HUB_OFFLINE is True and datasets.config.HF_HUB_OFFLINE is True
    assert os.environ["HF_HUB_OFFLINE"] == "1" and "HF_TOKEN" not in os.environ
    requests_before = len(fakehub_server.log)
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download("tester/toy", "config.json")
    assert len(fakehub_server.log) == requests_before
