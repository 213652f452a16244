"""The help center's articles, read from the content the bot answers with, so one edit changes both.

An article is a FAQ topic: its id and titles from data/topics/<category>.yml (the file is the
category), its answer (`utter_<topic>`, per language) from data/nlu/*.yml or domain.yml, and an
optional longer body for the help center in Markdown under the topic:

    topics:
      shipping_fee:
        title: {ja: "送料について", en: "Shipping fee"}
        body:
          ja: |
            ## 送料
            ...
          en: |
            ...

A category's own title and place in the list come from the file's optional `category:` entry
(`category: {title: {ja, en}, position: 1}`); without it the category is named by its file.

Bodies are rendered by markdown-it-py with raw HTML off (a `<script>` in a body is shown as text)
and links limited to its safe schemes, so content can never inject markup into the page. The set is
parsed again only when a content file's name, modification time or size changes (`make publish`,
an editor's change); `ArticleSet.version` is a hash of the files' bytes, which the search index is
keyed by.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from markdown_it import MarkdownIt

from languages import LANGUAGES
from flask import current_app

from .content_files import PROJECT_ROOT, ContentFiles

# CommonMark with GitHub-style tables; "html": False turns any raw HTML into text. A line break in
# the source is a line break on the page, as editors who write Japanese expect.
_markdown = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table")
_render_lock = threading.Lock()  # a MarkdownIt instance is not documented as thread-safe


def render_body(markdown: str) -> str:
    """Safe HTML of a topic's Markdown body."""
    with _render_lock:
        return _markdown.render(markdown)


@dataclass(frozen=True)
class Article:
    topic: str
    category: str
    title: dict  # {ja, en}
    answer: dict  # {ja, en}: the bot's answer, plain text
    body_html: Optional[dict]  # {ja, en} rendered Markdown, or None when the topic has no body
    body: Optional[dict] = None  # {ja, en} the Markdown itself (for search), or None
    examples: tuple = ()  # the customers' phrasings the bot learned the topic from (data/nlu)

    @property
    def url(self) -> str:
        return f"/help/{self.category}/{self.topic}"

    def text(self, language: str) -> str:
        """Everything the article says in a language, for keyword search and snippets."""
        parts = [self.title.get(language, ""), self.answer.get(language, "")]
        if self.body:
            parts.append(self.body.get(language, ""))
        return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class Category:
    id: str
    title: dict  # {ja, en}
    articles: list  # topic ids, in the file's order
    position: int = 0

    def name(self, language: str) -> str:
        return self.title.get(language) or self.title.get("ja") or self.id


@dataclass
class ArticleSet:
    version: str  # sha256 of the content files' bytes
    _articles: dict = field(default_factory=dict)  # topic id -> Article, categories' order
    _categories: list = field(default_factory=list)

    def categories(self, language: str = "ja") -> list[Category]:
        """The categories, in their `position` order then by id; each with its articles' ids.
        (The order does not depend on the language; the parameter is there for callers that show
        `Category.name(language)`.)"""
        return list(self._categories)

    def category(self, category_id: str) -> Optional[Category]:
        return next((c for c in self._categories if c.id == category_id), None)

    def article(self, topic: str) -> Optional[Article]:
        return self._articles.get(topic)

    def all(self) -> list[Article]:
        return list(self._articles.values())


def _answers(content: ContentFiles) -> dict[str, dict[str, str]]:
    """{response name: {language: text}} as Rasa merges them: domain.yml's, then data/nlu's."""
    merged: dict[str, list] = {}
    for path in [content.domain, *content._yml("data/nlu")]:
        if path.is_file():
            merged.update(content._load(path).get("responses") or {})
    answers: dict[str, dict[str, str]] = {}
    for name, variations in merged.items():
        for variation in variations or []:
            if not isinstance(variation, dict) or not isinstance(variation.get("text"), str):
                continue
            languages = [c.get("value") for c in variation.get("condition") or []
                         if isinstance(c, dict) and c.get("name") == "language"]
            for language in languages or LANGUAGES:
                answers.setdefault(str(name), {}).setdefault(language, variation["text"].strip())
    return answers


def _files(content: ContentFiles) -> list[Path]:
    return [p for p in [content.domain, *content._yml("data/nlu"), *content._yml("data/topics")] if p.is_file()]


def _bilingual(value) -> Optional[dict]:
    if not isinstance(value, dict):
        return None
    found = {lang: str(value[lang]).strip() for lang in LANGUAGES if isinstance(value.get(lang), str)
             and str(value[lang]).strip()}
    return found or None


def read_articles(content: ContentFiles) -> ArticleSet:
    """Parses the content files into articles (see load_articles for the cached form)."""
    digest = hashlib.sha256()
    for path in _files(content):
        digest.update(str(path.relative_to(content.project)).encode() + b"\0" + path.read_bytes() + b"\0")
    answers = _answers(content)
    examples = {t.id: tuple(t.examples) for t in content.topics()}
    categories, articles = [], {}
    for path in content._yml("data/topics"):
        data = content._load(path)
        described = data.get("category") if isinstance(data.get("category"), dict) else {}
        ids = []
        for topic_id, entry in (data.get("topics") or {}).items():
            entry = entry if isinstance(entry, dict) else {}
            topic_id = str(topic_id)
            title = _bilingual(entry.get("title")) or {}
            body = _bilingual(entry.get("body"))
            answer = answers.get(f"utter_{topic_id}", {})
            articles[topic_id] = Article(
                topic=topic_id, category=path.stem,
                title={lang: title.get(lang) or title.get("ja") or topic_id for lang in LANGUAGES},
                answer={lang: answer.get(lang, "") for lang in LANGUAGES},
                body_html={lang: render_body(text) for lang, text in body.items()} if body else None,
                body=body, examples=examples.get(topic_id, ()))
            ids.append(topic_id)
        title = _bilingual(described.get("title")) or {}
        position = described.get("position")
        categories.append(Category(path.stem, {lang: title.get(lang) or path.stem for lang in LANGUAGES}, ids,
                                   position if isinstance(position, int) and not isinstance(position, bool) else 1000))
    categories.sort(key=lambda c: (c.position, c.id))
    ordered = {topic: articles[topic] for c in categories for topic in c.articles}
    return ArticleSet(digest.hexdigest(), ordered, categories)


def content_of(app) -> ContentFiles:
    """The FAQ content an app serves (as content_files.project_content, without a request)."""
    return ContentFiles(app.config.get("TSUNAGI_PROJECT_DIR") or PROJECT_ROOT)


def _stat_key(content: ContentFiles) -> tuple:
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in _files(content))


def load_articles(app=None) -> ArticleSet:
    """The app's articles (the current app's when none is given), parsed again only when a content
    file's name, modification time or size changed. Raises content_files.ContentError when a file
    cannot be read."""
    if app is None:
        app = current_app._get_current_object()
    content = content_of(app)
    cache = app.extensions.setdefault("tsunagi_help_articles", {"key": None, "set": None, "lock": threading.Lock()})
    try:
        key = _stat_key(content)
    except OSError:  # a file went away meanwhile (an editor's atomic replace): read afresh
        key = None
    if key is not None and cache["key"] == key:
        return cache["set"]
    with cache["lock"]:
        if key is not None and cache["key"] == key:
            return cache["set"]
        articles = read_articles(content)
        cache["key"], cache["set"] = key, articles
        return articles
