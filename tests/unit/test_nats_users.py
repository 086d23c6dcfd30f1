"""The NATS users table stays true to the code and to the deployment files: each service may
touch exactly the durables it runs, and compose, Kubernetes and infra/nats carry the same
users as `closedloop nats-config`."""
from __future__ import annotations

import importlib
import os
import stat
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from closedloop import nats_users
from shared.bus.connection import connect_options
from shared.bus.consumer import DurableConsumer
from shared.bus.streams import PRODUCERS
from shared.settings import NatsSettings

ROOT = Path(__file__).resolve().parents[2]


class AnyHandlers:
    """Stands in for a service's application: every attribute is a handler."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


@pytest.mark.parametrize("service", PRODUCERS)
def test_each_service_may_run_exactly_the_durables_its_consumers_use(service):
    subscriptions = importlib.import_module(f"services.{service}.consumer").subscriptions(AnyHandlers())
    assert {s.stream for s in subscriptions} == set(nats_users.CONSUMES[service])
    publish = nats_users.permissions(service)["publish"]
    for sub in subscriptions:
        durable = DurableConsumer(None, None, service, sub).durable
        assert f"$JS.API.CONSUMER.MSG.NEXT.{sub.stream}.{durable}" in publish
        assert f"$JS.ACK.{sub.stream}.{durable}.>" in publish


def test_a_service_publishes_only_its_own_subjects_and_dead_letters():
    publish = nats_users.permissions("notifier")["publish"]
    events = [s for s in publish if not s.startswith("$JS.")]
    assert events == ["closedloop.notifier.>", "closedloop.dlq.notifier.>"]
    assert not any(s.startswith(("$JS.API.STREAM.CREATE", "$JS.API.STREAM.DELETE",
                                 "$JS.API.STREAM.PURGE", "$JS.API.STREAM.MSG", "$JS.API.DIRECT"))
                   for s in publish)
    assert nats_users.permissions("notifier")["subscribe"] == ["_INBOX.notifier.>"]


def test_the_checked_in_nats_config_is_the_generated_one():
    expected = nats_users.from_environment()
    assert (ROOT / "infra/nats/authorization.conf").read_text() == expected
    assert "include authorization.conf" in (ROOT / "infra/nats/nats-server.conf").read_text()
    secrets = [d for d in yaml.safe_load_all((ROOT / "infra/k8s/secret.example.yaml").read_text())
               if d["metadata"]["name"] == "closedloop-nats"]
    assert secrets[0]["stringData"]["authorization.conf"] == expected


def test_compose_gives_each_service_its_own_user_and_keeps_nats_on_this_machine():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for service in PRODUCERS:
        env = compose[service]["environment"]
        assert env["CLOSEDLOOP_NATS_USER"] == service
        assert f"NATS_{service.upper()}_PASSWORD" in env["CLOSEDLOOP_NATS_PASSWORD"]
    assert all(p.startswith("127.0.0.1:") for p in compose["nats"]["ports"])
    assert set(compose["nats"]["environment"]) == {nats_users.password_variable(u)
                                                   for u in nats_users.USERS}


@pytest.mark.parametrize("service", PRODUCERS)
def test_kubernetes_gives_each_service_its_own_user(service):
    deployment = yaml.safe_load((ROOT / f"infra/k8s/{service}.yaml").read_text().split("\n---")[0])
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CLOSEDLOOP_NATS_USER"]["value"] == service
    assert env["CLOSEDLOOP_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "closedloop-nats", "key": f"{service}-password"}


def test_passwords_are_generated_once_and_readable_only_by_their_owner(tmp_path):
    first = nats_users.passwords(tmp_path)
    assert set(first) == set(nats_users.USERS) and len(set(first.values())) == len(first)
    assert stat.S_IMODE(os.stat(tmp_path / "nats-users.json").st_mode) == 0o600
    assert nats_users.passwords(tmp_path) == first


def test_connect_options_carry_the_user_its_inbox_and_no_password_in_the_settings_repr():
    settings = NatsSettings(nats_url="nats://a:4222, nats://b:4222", nats_user="capa",
                            nats_password=SecretStr("s3cret"))
    assert connect_options(settings) == {
        "servers": ["nats://a:4222", "nats://b:4222"], "inbox_prefix": "_INBOX.capa",
        "user": "capa", "password": "s3cret"}
    assert "s3cret" not in repr(settings)
    assert connect_options(NatsSettings(nats_url="nats://a:4222")) == {
        "servers": ["nats://a:4222"], "inbox_prefix": "_INBOX"}


def test_a_client_certificate_without_its_key_is_refused_with_the_setting_to_fix(tmp_path):
    settings = NatsSettings(nats_tls_cert_file=str(tmp_path / "client.pem"))
    with pytest.raises(ValueError, match="CLOSEDLOOP_NATS_TLS_KEY_FILE"):
        connect_options(settings)


def test_the_cli_talks_to_the_local_stack_as_the_admin(tmp_path, monkeypatch):
    from closedloop import cli
    from closedloop.stack import StackInfo

    for variable in ("NATS_URL", "CLOSEDLOOP_NATS_URL", "CLOSEDLOOP_NATS_USER"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(cli, "HOME", tmp_path)
    passwords = nats_users.passwords(tmp_path)
    StackInfo(urls={}, api_key="k", nats_url="nats://127.0.0.1:4999",
              database_url="postgresql://x").save(tmp_path / "stack.json")
    settings = cli.admin_nats()
    assert (settings.nats_url, settings.nats_user) == ("nats://127.0.0.1:4999", nats_users.ADMIN)
    assert settings.nats_password.get_secret_value() == passwords[nats_users.ADMIN]
