"""Loads the trained model and asks it questions in Japanese and English."""
import asyncio

import pytest

from intents import NARROW_INTENTS


@pytest.fixture(scope="module")
def agent(trained_model):
    from rasa.core.agent import Agent

    return Agent.load(str(trained_model))


def parse(agent, text):
    return asyncio.run(agent.parse_message(text))


def language_of(result):
    return next(e["value"] for e in result["entities"] if e["entity"] == "language")


@pytest.mark.parametrize("text, intent", [
    ("送料はいくらですか？", "shipping_fee"),
    ("注文をキャンセルしたいです", "order_cancel"),
    ("退会したい", "account_delete"),
    ("パスワードを忘れました", "account_password_reset"),
    ("代引きの手数料は？", "payment_cod"),
    ("人と話したい", "request_human"),
])
def test_japanese_questions(agent, text, intent):
    result = parse(agent, text)
    assert result["intent"]["name"] == intent
    assert language_of(result) == "ja"


@pytest.mark.parametrize("text, intent", [
    ("How much is shipping?", "shipping_fee"),
    ("I want to cancel my order", "order_cancel"),
    ("can I pay with PayPay", "payment_methods"),
    ("the plate arrived broken", "returns_damaged_item"),
    ("I want to talk to a human", "request_human"),
])
def test_english_questions(agent, text, intent):
    result = parse(agent, text)
    assert result["intent"]["name"] == intent
    assert language_of(result) == "en"


@pytest.mark.parametrize("text", ["今日の東京の天気は？", "write me a python script to sort a list"])
def test_unrelated_questions_fall_back(agent, text):
    result = parse(agent, text)
    assert result["intent"]["name"] == "nlu_fallback"
    # The ranking behind the fallback is kept, for suggestions and for agents.
    assert len(result["intent_ranking"]) > 1


@pytest.mark.parametrize("text, intent", [
    ("こんにちは", "greet"), ("ありがとうございます", "thanks"), ("hello", "greet"), ("thank you!", "thanks"),
])
def test_a_bare_greeting_or_thanks_is_one(agent, text, intent):
    assert parse(agent, text)["intent"]["name"] == intent


@pytest.mark.parametrize("text", [
    "こんにちは、最近寒くなってきましたね。風邪ひいてませんか",
    "hi there, what's your favourite movie?",
])
def test_small_talk_around_a_greeting_is_not_a_greeting(agent, text):
    result = parse(agent, text)
    assert result["intent"]["name"] not in NARROW_INTENTS
