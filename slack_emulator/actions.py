"""What users do: post messages, run slash commands, click buttons.

Each action changes the workspace the way the Slack client would and then has the
dispatcher deliver what Slack would send the app:

* a message yields a ``message`` event (``channel_type`` ``im`` in a DM) and, when it
  mentions the bot as ``<@BOT>`` outside a DM, also an ``app_mention`` event for the same
  message, because Slack sends both;
* a slash command yields a ``slash_commands`` envelope with a fresh response_url and
  trigger_id; an acknowledgement carrying a payload is shown as the immediate reply
  (ephemeral unless ``response_type`` is ``in_channel``), and a command the app does not
  acknowledge in time gets Slack's "failed with the error" notice;
* a click on a button yields ``block_actions`` with the message, the container and a
  response_url bound to that message.
"""

from __future__ import annotations

from typing import Any

from slack_emulator import payloads
from slack_emulator.blocks import with_block_ids
from slack_emulator.config import EmulatorConfig
from slack_emulator.delivery import Delivery, Dispatcher
from slack_emulator.errors import SlackError
from slack_emulator.response_urls import ResponseUrls
from slack_emulator.workspace import Channel, Message, User, Workspace

JSON = dict[str, Any]


class UserActions:
    def __init__(
        self, ws: Workspace, dispatcher: Dispatcher, response_urls: ResponseUrls, config: EmulatorConfig
    ) -> None:
        self.ws = ws
        self.dispatcher = dispatcher
        self.response_urls = response_urls
        self.config = config
        dispatcher.on_ack = self.on_ack
        dispatcher.on_fail = self.on_fail

    def user(self, ref: str) -> User:
        user = self.ws.find_user(ref)
        if user is None:
            raise SlackError("user_not_found", status=404)
        return user

    def channel(self, ref: str) -> Channel:
        channel = self.ws.find_channel(ref)
        if channel is None:
            raise SlackError("channel_not_found", status=404)
        return channel

    # -- messages --------------------------------------------------------------------------

    def post_message(self, user_ref: str, channel_ref: str, text: str, thread_ts: str | None = None) -> Message:
        """Post ``text`` as a user; the app receives the events Slack would send."""
        user = self.user(user_ref)
        channel = self.channel(channel_ref)
        if thread_ts is not None and self.ws.get_message(channel.id, thread_ts) is None:
            raise SlackError("thread_not_found", status=404)
        message = self.ws.add_message(
            Message(
                ts="",
                channel=channel.id,
                text=text,
                user=user.id,
                thread_ts=thread_ts,
                client_msg_id=self.ws.new_client_msg_id(),
            )
        )
        self.emit_message_events(message)
        return message

    def emit_message_events(self, message: Message) -> list[Delivery]:
        """Deliver ``message`` (and ``app_mention`` if it mentions the bot)."""
        channel = self.channel(message.channel)
        parent = self.ws.get_message(channel.id, message.thread_ts) if message.is_reply and message.thread_ts else None
        event = payloads.message_event(message, channel, parent)
        out = [self.dispatcher.submit("events_api", payloads.event_callback(self.ws, event))]
        mentioned = self.ws.bot.user_id in self.ws.mentions(message.text)
        if mentioned and not channel.is_im and message.user != self.ws.bot.user_id:
            mention = payloads.app_mention_event(message)
            out.append(self.dispatcher.submit("events_api", payloads.event_callback(self.ws, mention)))
        return out

    # -- slash commands --------------------------------------------------------------------

    def slash_command(self, user_ref: str, channel_ref: str, command: str, text: str | None = None) -> Delivery:
        """Run ``/command text`` as a user. ``command`` may be the whole line."""
        user = self.user(user_ref)
        channel = self.channel(channel_ref)
        command = command.strip()
        if text is None:
            command, _, text = command.partition(" ")
        if not command.startswith("/"):
            command = "/" + command
        response_url = self.response_urls.issue("commands", channel.id, user.id)
        payload = payloads.slash_command(
            self.ws,
            self.config.verification_token,
            user,
            channel,
            command,
            text.strip(),
            response_url,
            payloads.new_trigger_id(),
        )
        return self.dispatcher.submit("slash_commands", payload)

    # -- clicks ----------------------------------------------------------------------------

    def click(
        self,
        user_ref: str,
        channel_ref: str,
        ts: str,
        action_id: str,
        block_id: str | None = None,
        value: str | None = None,
    ) -> Delivery:
        """Click the element ``action_id`` on message ``ts`` as a user."""
        user = self.user(user_ref)
        channel = self.channel(channel_ref)
        message = self.ws.get_message(channel.id, ts)
        if message is None or not self.ws.visible(message, user.id):
            raise SlackError("message_not_found", status=404)
        found = payloads.find_action(message.blocks, action_id, block_id)
        if found is None:
            raise SlackError("action_not_found", status=404)
        element, found_block_id = found
        action = payloads.action_from_element(element, found_block_id, value)
        response_url = self.response_urls.issue("actions", channel.id, user.id, message.ts)
        payload = payloads.block_actions(
            self.ws,
            self.config.verification_token,
            user,
            channel,
            message,
            action,
            response_url,
            payloads.new_trigger_id(),
        )
        return self.dispatcher.submit("interactive", payload)

    # -- acknowledgement outcomes ----------------------------------------------------------

    async def on_ack(self, delivery: Delivery) -> None:
        """A slash command acknowledged with a message: show it as the immediate reply."""
        body = delivery.ack_payload
        if delivery.kind != "slash_commands" or not body or not (body.get("text") or body.get("blocks")):
            return
        blocks = body.get("blocks")
        in_channel = body.get("response_type") == "in_channel"
        self.ws.post_as_bot(
            str(delivery.payload["channel_id"]),
            str(body.get("text") or ""),
            with_block_ids(blocks) if isinstance(blocks, list) else None,
            ephemeral_to=None if in_channel else str(delivery.payload["user_id"]),
        )

    async def on_fail(self, delivery: Delivery) -> None:
        """A slash command nobody acknowledged: Slackbot tells the user, as Slack does."""
        if delivery.kind != "slash_commands":
            return
        undeliverable = all(a.outcome == "undeliverable" for a in delivery.attempts)
        error = "dispatch_failed" if undeliverable else "operation_timeout"
        self.ws.add_message(
            Message(
                ts="",
                channel=str(delivery.payload["channel_id"]),
                text=f'{delivery.payload["command"]} failed with the error "{error}"',
                user="USLACKBOT",
                ephemeral_to=str(delivery.payload["user_id"]),
            )
        )
