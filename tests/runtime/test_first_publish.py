"""`make run` on a machine where nothing was published (no models/live.json): the trained model is
published through make publish's checks (`python -m bot.publish first`: validate, train, evaluate;
there is no live model to compare with) and recorded, so the Rasa server serves it; a second
run changes nothing. Training is tools/train.sh's, cached by content hash (make train ran)."""
from __future__ import annotations

import json
import os
import subprocess

from runtime_support import BOT_PYTHON, ROOT


def first(models) -> subprocess.CompletedProcess:
    return subprocess.run([str(BOT_PYTHON), "-m", "bot.publish", "first", "--models-dir", str(models),
                           "--no-similarity", "--lang", "en"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                          capture_output=True, text=True, timeout=1800)


def test_the_first_run_publishes_the_trained_model_through_the_checks(tmp_path):
    models = tmp_path / "models"
    done = first(models)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[1/4]" in done.stdout and "No errors" in done.stdout          # validated
    assert "[3/4]" in done.stdout and "in-scope accuracy" in done.stdout   # evaluated, figures shown
    record = json.loads((models / "live.json").read_text())
    assert record["live"]["action"] == "first" and record["stack"] == [record["live"]["model"]]
    release = models.parent / record["live"]["model"]
    assert release.parent == models / "releases" and release.is_file()
    assert f"Published: {record['live']['model']}" in done.stdout

    again = first(models)
    assert again.returncode == 0 and "Already published" in again.stdout
    assert json.loads((models / "live.json").read_text()) == record


def test_the_first_publish_refuses_content_with_errors(tmp_path):
    from tests.support.bot_project import copy_project

    project = copy_project(tmp_path / "project")
    nlu = project / "data" / "nlu" / "payment.yml"
    nlu.write_text(nlu.read_text(encoding="utf-8").replace("  examples: |\n    - ", "  examples: |\n   - ", 1),
                   encoding="utf-8")
    models = tmp_path / "models"
    done = subprocess.run([str(BOT_PYTHON), "-m", "bot.publish", "first", "--models-dir", str(models), "--project",
                           str(project), "--no-similarity", "--lang", "en"], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Not published: the content has errors" in done.stdout
    assert not (models / "live.json").exists()
