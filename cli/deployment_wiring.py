"""The pieces behind GitHub's ``deployment`` events, built for :func:`cli.root.serve`: the run reporter that tells
each run's deployment its statuses (wrapping the bot's), and the use case the webhook server hands the events to
(only when an app has ``deployments.github``)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.run_reports import SlackRunReporter
from commands.usecases import ChatService
from commands.usecases.forge_service import DeploymentStarts, ForgeStatusReporter
from deploy.ids import new_run_id
from deploy.notify.forge_runs import ForgeRuns
from deploy.run.engine import Engine
from deploy.store.ports import Store


def status_reporter(engines: Mapping[str, Engine], store: Store, reporter: SlackRunReporter) -> ForgeStatusReporter:
    configs = {app: engine.config for app, engine in engines.items()}
    return ForgeStatusReporter(reporter, configs, ForgeRuns(store.db), store.door, store.outbox)


def deployment_starts(
    service: ChatService,
    engines: Mapping[str, Engine],
    store: Store,
    reporter: SlackRunReporter,
    statuses: ForgeStatusReporter,
) -> DeploymentStarts | None:
    if not any(e.config.deployments is not None and e.config.deployments.github for e in engines.values()):
        return None
    return DeploymentStarts(
        engines, service.policies, service.execute, store.inbox, ForgeRuns(store.db), store.door,
        statuses, reporter, service.approval_posted, new_run_id, service.started,
        created_here=store.outbox.created_here,  # the deployments the outbox made come back as events: not deploys
    )  # fmt: skip
