"""A local Slack for running and testing a Slack app without Slack.

An aiohttp server implementing the parts of Slack a slack-bolt / slack_sdk app uses: the Web
API (``/api/<method>``) with Slack's content limits and rate limits, Socket Mode with
acknowledgements, retries and disconnects, signed HTTP delivery as an alternative,
response URLs, a workspace model seeded from JSON, a control API for tests, and a small
web page to use the app as a person would. Stands alone: nothing of the app is imported.

Modules: ``workspace`` (directory and messages), ``blocks`` (content limits), ``limits``
(rate limits), ``payloads`` (what Slack sends), ``delivery`` (acks and retries),
``socket_mode`` and ``http_delivery`` (transports), ``response_urls``, ``files``,
``actions`` (what users do), ``web_api``, ``control``, ``core`` (wiring) and ``server``
(the :class:`SlackEmulator` and its Python API).
"""

from slack_emulator.config import EmulatorConfig
from slack_emulator.delivery import Attempt, Delivery
from slack_emulator.http_delivery import sign
from slack_emulator.limits import RateRule
from slack_emulator.server import SlackEmulator
from slack_emulator.workspace import Message, Workspace

__all__ = ["Attempt", "Delivery", "EmulatorConfig", "Message", "RateRule", "SlackEmulator", "Workspace", "sign"]
