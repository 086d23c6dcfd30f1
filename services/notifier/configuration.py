"""The notifier's configuration commands: channels and policies are created, edited,
disabled and (channels) given a new secret, each change a stored event with actor and
cause. Secrets are sealed before they reach an aggregate; destinations are checked."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from services.notifier.channels.egress import EgressPolicy
from services.notifier.channels.kinds import check_url
from services.notifier.oncall.aggregate import Schedule
from services.notifier.domain import (
    DIRECTORY_ID, Channel, ChannelKind, ChannelNotFound, Directory, EscalationPolicy, InvalidChannel,
    NameTaken, PolicyNotFound,
)
from services.notifier.domain.common import CONTACT_MEDIUM
from services.notifier.sealing import Sealer
from services.notifier.target_checks import Reach, check_targets
from services.notifier.views import channel_view, policy_view

DIRECTORY_RETRIES = 5


class Configuration:
    """Mixed into NotifierApplication (get_or_none, save, clock, retry_on_conflict)."""

    sealer: Sealer
    egress: EgressPolicy

    # -- channels -------------------------------------------------------------------------
    def register_channel(self, *, name: str, kind: str, url: str, secret: str,
                         headers: dict[str, str] | None, actor: str, cause: dict) -> dict:
        Channel.check_kind(kind)
        hint = self._check_destination(ChannelKind(kind), url)

        def make(at: datetime, id: UUID | None) -> Channel:  # noqa: A002
            return Channel.register(name=name, kind=kind, url=url, secret=secret,
                                    headers=headers, seal=self.sealer.seal, at=at, actor=actor,
                                    cause=cause, id=id, hint=hint)

        channel = self._create_listed(make, Channel, name, Directory.list_channel, actor, cause)
        return channel_view(channel)

    def update_channel(self, channel_id: UUID, *, name: str | None = None,
                       url: str | None = None, headers: dict[str, str] | None = None,
                       enabled: bool | None = None, why: str | None = None, actor: str,
                       cause: dict) -> dict:
        channel = self._channel(str(channel_id))
        hint = self._check_destination(channel.kind, url) if url is not None else None
        if name is not None and name != channel.name:
            self._check_name_free(Channel, name)
        at = self.clock.now()
        channel.update(name=name, url=url, headers=headers, seal=self.sealer.seal, at=at,
                       actor=actor, cause=cause, hint=hint)
        self._switch(channel, enabled, why, at, actor, cause)
        self.save(channel)
        return channel_view(channel)

    def rotate_channel_secret(self, channel_id: UUID, *, secret: str | None,
                              grace_seconds: float, actor: str, cause: dict) -> dict:
        """Returns the new secret, once: it is stored sealed and never shown again."""
        channel = self._channel(str(channel_id))
        new_secret = secret or secrets.token_urlsafe(32)
        channel.rotate_secret(new_secret, timedelta(seconds=grace_seconds), self.sealer.seal,
                              self.clock.now(), actor, cause)
        self.save(channel)
        return {**channel_view(channel), "secret": new_secret,
                "previous_secret_signs_until": channel.previous_until}

    def _check_destination(self, kind: ChannelKind, url: str) -> str | None:
        """Refuse a URL the kind cannot use or an internal IP literal; returns the URL as
        people may see it (tokens masked) for kinds whose URL is sealed."""
        checked = check_url(kind, url)
        host = f"[{checked.host}]" if ":" in (checked.host or "") else checked.host
        try:
            why = self.egress.literal_refusal(f"//{host}") if host else None
        except ValueError:
            why = f"{checked.host!r} is not a host name or an address"
        if why is not None:
            raise InvalidChannel("url", why)
        return checked.hint

    # -- policies -------------------------------------------------------------------------
    def define_policy(self, *, name: str, severities: list[str], actor: str, cause: dict,
                      **ladder: Any) -> dict:
        """`ladder`: steps and repeat, or the shorthand notify, escalate_after_seconds and
        escalate_to (policy.py)."""
        self._check_targets(EscalationPolicy.normalised(name=name, severities=severities,
                                                        **ladder), "steps" not in ladder)

        def make(at: datetime, id: UUID | None) -> EscalationPolicy:  # noqa: A002
            return EscalationPolicy.define(name=name, severities=severities, at=at,
                                           actor=actor, cause=cause, id=id, **ladder)

        policy = self._create_listed(make, EscalationPolicy, name, Directory.list_policy,
                                     actor, cause)
        return policy_view(policy)

    def update_policy(self, policy_id: UUID, *, changes: dict[str, Any],
                      enabled: bool | None = None, why: str | None = None, actor: str,
                      cause: dict) -> dict:
        policy = self._policy(str(policy_id))
        if "name" in changes and changes["name"] != policy.name:
            self._check_name_free(EscalationPolicy, changes["name"])
        at = self.clock.now()
        named = policy.people()  # those who left since may stay; no newcomer who left
        if policy.revise(changes, at, actor, cause):
            self._check_targets(policy.definition, "steps" not in changes, named)
        self._switch(policy, enabled, why, at, actor, cause)
        self.save(policy)
        return policy_view(policy)

    def _check_targets(self, definition: dict, shorthand: bool,
                       named_before: list[str] = ()) -> None:
        """Every target a ladder names must exist now and every step reach someone (people
        and schedules can still leave or change later: a step says what it could not
        resolve when it fires). The error names the field as it was written."""
        channels = self._channels()
        check_targets(definition, shorthand, Reach(
            chart=self.org_chart(), channel_ids={str(c.id) for c in channels},
            channel_names={c.name for c in channels},
            channel_media={c.name: CONTACT_MEDIUM[c.kind] for c in channels
                           if c.kind in CONTACT_MEDIUM},
            schedule_exists=self._schedule_exists,
            people_before=named_before))

    # -- shared steps ---------------------------------------------------------------------
    @staticmethod
    def _switch(aggregate: Channel | EscalationPolicy, enabled: bool | None, why: str | None,
                at: datetime, actor: str, cause: dict) -> None:
        if enabled is False:
            aggregate.disable(why or f"disabled by {actor}", at, actor, cause)
        elif enabled is True:
            aggregate.enable(at, actor, cause)

    def _create_listed(self, make: Callable[[datetime, UUID | None], Any], kind: type,
                       name: str, list_in: Callable[..., None], actor: str, cause: dict) -> Any:
        """Save a new channel or policy together with its directory entry. The directory is
        one aggregate, so concurrent creations conflict; the loser simply tries again."""
        def attempt() -> Any:
            at = self.clock.now()
            self._check_name_free(kind, name)
            # The id derives from the name unless a renamed aggregate still holds it.
            taken = self.get_or_none(kind.create_id(name)) is not None
            aggregate = make(at, uuid4() if taken else None)
            directory = self.get_or_none(DIRECTORY_ID) or Directory(at=at, actor=actor, cause=cause)
            list_in(directory, aggregate.id, at, actor, cause)
            self.save(aggregate, directory)
            return aggregate

        return self.retry_on_conflict(attempt, attempts=DIRECTORY_RETRIES)

    def _check_name_free(self, kind: type, name: str) -> None:
        listed = self._channels() if kind is Channel else self._policies()
        if any(a.name == name for a in listed):
            what = "channel" if kind is Channel else "policy"
            raise NameTaken(f"{what} {name!r} already exists; names are unique")

    # -- lookups --------------------------------------------------------------------------
    def _listed(self, ids_of: Callable[[Directory], list[str]]) -> list[Any]:
        directory = self.get_or_none(DIRECTORY_ID)
        if directory is None:
            return []
        return [self.repository.get(UUID(i)) for i in ids_of(directory)]

    def _policies(self) -> list[EscalationPolicy]:
        return self._listed(lambda d: d.policy_ids)

    def _schedule_exists(self, name: str) -> bool:
        found = self.get_or_none(Schedule.create_id(name))
        return isinstance(found, Schedule) and not found.deleted

    def _channels(self) -> list[Channel]:
        return self._listed(lambda d: d.channel_ids)

    def _channel_or_none(self, channel_id: str) -> Channel | None:
        try:
            found = self.get_or_none(UUID(channel_id))
        except ValueError:
            return None
        return found if isinstance(found, Channel) else None

    def _channel(self, channel_id: str) -> Channel:
        channel = self._channel_or_none(channel_id)
        if channel is None:
            raise ChannelNotFound(f"channel {channel_id} does not exist")
        return channel

    def _policy(self, policy_id: str) -> EscalationPolicy:
        try:
            found = self.get_or_none(UUID(policy_id))
        except ValueError:
            found = None
        if not isinstance(found, EscalationPolicy):
            raise PolicyNotFound(f"policy {policy_id} does not exist")
        return found
