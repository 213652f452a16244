"""The dashboard's topic titles (handoff/content_files.topic_titles) are read again when a content
file changes, and not before."""
from __future__ import annotations

import os

from handoff.content_files import ContentFiles, topic_titles


def test_topic_titles_follow_an_edited_topic_file(project):
    content = ContentFiles(project)
    first = topic_titles(content)
    assert first["order_status"] == {"ja": "注文状況の確認", "en": "Order status"}
    assert topic_titles(content) is first  # nothing changed: the parsed titles are reused

    topics = next(path for path in (project / "data" / "topics").glob("*.yml") if "order_status:" in path.read_text())
    stat = topics.stat()
    topics.write_text(topics.read_text().replace('en: "Order status"', 'en: "Where is my order?"'))
    os.utime(topics, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a new mtime even on a coarse clock

    again = topic_titles(content)
    assert again is not first
    assert again["order_status"]["en"] == "Where is my order?"
