"""Who a caller is: their groups and whether they are a superuser (simple mode).

Made by the namesystem; client_servicer.py asks it for the Caller of each request
from the user name in its call metadata (minidfs/identity.py). As Hadoop's
ShellBasedUnixGroupsMapping, groups come from this host's user database
(os.getgrouplist), merged with the static `[groups]` table of cluster.toml for
users this host does not know; answers are cached for CACHE_TTL_S. Superusers are
the user running the NameNode and the members of `superusergroup`.
"""
from __future__ import annotations

import grp
import os
import pwd
import time

from minidfs.identity import known_on_host, process_user
from minidfs.namenode.permission_checker import Caller

CACHE_TTL_S = 300.0        # Hadoop's hadoop.security.groups.cache.secs
CACHE_MAX_USERS = 10_000


def host_groups(user: str) -> list[str]:
    """The user's groups in this host's user database, primary group first; [] for
    a user the host does not know."""
    try:
        entry = pwd.getpwnam(user)
    except (KeyError, UnicodeError, ValueError):
        return []
    names = []
    for gid in [entry.pw_gid] + [g for g in os.getgrouplist(user, entry.pw_gid) if g != entry.pw_gid]:
        try:
            names.append(grp.getgrgid(gid).gr_name)
        except KeyError:
            names.append(str(gid))
    return names


class UserGroups:
    def __init__(self, static_groups: dict[str, list[str]], supergroup: str,
                 superuser: str | None = None, enabled: bool = True) -> None:
        self.static_groups = static_groups
        self.supergroup = supergroup
        self.superuser = superuser or process_user()
        self.enabled = enabled
        self._callers: dict[str, tuple[float, Caller]] = {}

    def groups(self, user: str) -> list[str]:
        names = host_groups(user)
        return names + [g for g in self.static_groups.get(user, []) if g not in names]

    def caller(self, user: str) -> Caller:
        """Asked once per RPC: cached (with the groups) for CACHE_TTL_S."""
        now = time.monotonic()
        hit = self._callers.get(user)
        if hit is not None and now - hit[0] < CACHE_TTL_S:
            return hit[1]
        groups = frozenset(self.groups(user))
        is_super = (not self.enabled or user == self.superuser or self.supergroup in groups)
        found = Caller(user, groups, is_super)
        if len(self._callers) >= CACHE_MAX_USERS:
            self._callers.clear()
        self._callers[user] = (now, found)
        return found

    def known_user(self, user: str) -> bool:
        """A user chown may name: known to this host, to [groups], or the superuser."""
        return user == self.superuser or user in self.static_groups or known_on_host(user)

    def known_group(self, group: str) -> bool:
        if group == self.supergroup or any(group in g for g in self.static_groups.values()):
            return True
        try:
            grp.getgrnam(group)
        except (KeyError, UnicodeError, ValueError):
            return False
        return True
