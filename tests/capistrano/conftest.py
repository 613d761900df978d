"""A Capistrano project and the fleet it deploys, for tests that drive Debian's real ``cap`` (3.17) and shipbot
on the same real sshd hosts: one fleet per module (``cap`` needs a second or more per task, so the tests share it).

The project has two stages (staging: the first host; production: both), roles, a linked file and linked folders,
and a custom task run after publishing. ``cap`` reaches the hosts with the fleet's client key and known_hosts, as
root inside each host's private mount of ``deploy_to`` (every host sees its own ``/…/srv/shop``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import SshdFleet, sshd_unavailable_reason

CAP = shutil.which("cap")
SHIPBOT = str(Path(sys.executable).with_name("shipbot"))
CAP_USER = "carol"  # the local user Capistrano writes into revisions.log

CAPFILE = """\
require "capistrano/setup"
require "capistrano/deploy"
require "capistrano/scm/git"
install_plugin Capistrano::SCM::Git
"""

DEPLOY_RB = """\
lock "~> 3.17"
set :application, "shop"
set :repo_url, "{repo}"
set :branch, "main"
set :deploy_to, "{deploy_to}"
set :keep_releases, 4
append :linked_files, "config/app.env"
append :linked_dirs, "log", "tmp/cache"
set :ssh_options, {{ keys: ["{key}"], user_known_hosts_file: "{known_hosts}", auth_methods: ["publickey"] }}

namespace :deploy do
  desc "Restart the app"
  task :restart_app do
    on roles(:app) do
      within release_path do
        execute :touch, "restarted"
      end
    end
  end
end

after "deploy:publishing", "deploy:restart_app"
"""

STAGE_RB = 'server "{address}", user: "{user}", port: {port}, roles: %w{{{roles}}}\n'


@dataclass
class CapProject:
    folder: Path
    fleet: SshdFleet
    repo: GitRepo
    deploy_to: str

    def cap(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "USER": CAP_USER, "LOGNAME": CAP_USER}
        return subprocess.run(
            [CAP or "cap", *args], cwd=self.folder, env=env, capture_output=True, text=True, timeout=timeout
        )

    def shipbot(self, *args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SHIPBOT_DATA_DIR": str(cwd / "data")}
        return subprocess.run([SHIPBOT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    def host_path(self, i: int, *parts: str) -> Path:
        return self.fleet.hosts[i].local_deploy_to.joinpath(*parts)


@pytest.fixture(scope="module")
def cap_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CapProject]:
    reason = sshd_unavailable_reason()
    if reason:
        pytest.skip(reason)
    if CAP is None:
        pytest.skip("cap is not installed (Debian: apt-get install capistrano)")
    if os.geteuid() != 0:
        pytest.skip("the fleet mounts one deploy_to per host, which needs root")
    root = tmp_path_factory.mktemp("capistrano")
    deploy_to = str(root / "srv" / "shop")
    fleet = SshdFleet(root / "fleet", 2, addresses="loopback", mount_at=deploy_to)
    fleet.start()
    try:
        repo = GitRepo(root / "repo")
        repo.commit("first version", {"VERSION": "v1\n"})
        for i in range(2):
            shared = fleet.hosts[i].local_deploy_to / "shared" / "config"
            shared.mkdir(parents=True)
            (shared / "app.env").write_text("SECRET_KEY_BASE=kept-on-the-host\n")
        folder = root / "project"
        (folder / "config" / "deploy").mkdir(parents=True)
        (folder / "Capfile").write_text(CAPFILE)
        (folder / "config" / "deploy.rb").write_text(
            DEPLOY_RB.format(repo=repo.path, deploy_to=deploy_to, key=fleet.client_key, known_hosts=fleet.known_hosts)
        )
        stages = {"staging": [(0, "app web db")], "production": [(0, "app web db"), (1, "app web")]}
        for stage, hosts in stages.items():
            (folder / "config" / "deploy" / f"{stage}.rb").write_text(
                "".join(
                    STAGE_RB.format(
                        address=fleet.hosts[i].address, user=fleet.user, port=fleet.hosts[i].port, roles=roles
                    )
                    for i, roles in hosts
                )
            )
        yield CapProject(folder, fleet, repo, deploy_to)
    finally:
        fleet.stop()
