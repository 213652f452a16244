"""intents.py names the domain's non-topic intents: none missing, none misspelt."""
from bot.validate import read_content
from intents import CONVERSATION_INTENTS, NOT_TOPICS


def test_every_intent_of_the_domain_is_a_topic_or_named_in_intents_py(project_root):
    content = read_content(project_root)
    assert not content.problems, content.problems
    topics = set(content.topics)
    assert topics and topics.isdisjoint(NOT_TOPICS)
    declared = set(content.domain_intents)
    assert set(CONVERSATION_INTENTS) <= declared, "a conversation intent the domain does not have"
    assert declared - topics <= set(NOT_TOPICS), "a domain intent neither a topic nor named in intents.py"
