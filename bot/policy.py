"""A dialogue policy for FAQ topics: a topic's question is answered by `action_answer_faq`.

A topic is any intent with an answer named `utter_<intent>` in the domain, so adding a
topic takes data only (examples and an answer), not a rule per topic.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction, confidence_scores_for
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from intents import NOT_TOPICS

logger = logging.getLogger(__name__)

ANSWER_ACTION = "action_answer_faq"


def topic_intents(domain: Domain, exclude: List[Text]) -> List[Text]:
    """Intents that have an answer `utter_<intent>` and are not conversation intents."""
    return sorted(i for i in domain.intents if f"utter_{i}" in domain.responses and i not in exclude)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class FAQPolicy(Policy):
    """Predicts `action_answer_faq` after a topic's question, then listens; listens after the
    fallback action too. Without that, a turn no rule covers (a "yes" when nothing was asked)
    got Rasa's core fallback action again and again, ten times, until the prediction limit."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Below RulePolicy (6): a rule written for an intent wins over this policy.
            "priority": 5,
            # Intents that have an utter_<intent> response but are not FAQ topics.
            "exclude_intents": list(NOT_TOPICS),
            # Actions after which the bot waits for the customer.
            "listen_after": [ANSWER_ACTION, "action_handle_fallback"],
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer=None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        # Nothing to learn: the topics are read from the domain at prediction time.
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        latest_action = tracker.latest_action_name
        if latest_action in self.config["listen_after"]:
            return self._prediction(confidence_scores_for(ACTION_LISTEN_NAME, 1.0, domain))
        if latest_action == ACTION_LISTEN_NAME and tracker.latest_message:
            intent = tracker.latest_message.intent.get("name")
            if intent in topic_intents(domain, self.config["exclude_intents"]):
                logger.debug("FAQPolicy: %s is a topic; answering it.", intent)
                return self._prediction(confidence_scores_for(ANSWER_ACTION, 1.0, domain))
        return self._prediction(self._default_predictions(domain))
