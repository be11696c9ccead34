"""Release notes from the workspace's git history, grouped by what a commit touched.

A commit that edits overlays/flashlight-tile/ matters to the devices that enable that
overlay; one that edits locales/zh-Hans-CN/ to the devices shipping zh-Hans-CN; a device
profile to the devices whose `inherits` chain holds it; credits and romforge.toml to all.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from romforge.errors import InputError
from romforge.profile import DeviceProfile

ISSUE_REF = re.compile(r"(?<![\w/])#(\d{1,7})\b")
GROUPS = ("Features", "Translations", "Device", "Credits", "Workspace")


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    body: str
    author: str
    date: str  # ISO 8601, from the commit, never the clock
    paths: tuple[str, ...]  # relative to the workspace root

    @property
    def short(self) -> str:
        return self.sha[:10]

    @property
    def issues(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(ISSUE_REF.findall(f"{self.subject}\n{self.body}")))


@dataclass
class NoteEntry:
    commit: Commit
    topics: list[str]  # e.g. ["flashlight-tile"] for an overlay


@dataclass
class ReleaseNotes:
    device: str
    model: str
    version: str
    previous: str | None
    date: str
    groups: dict[str, list[NoteEntry]] = field(default_factory=dict)
    issues_url: str | None = None

    @property
    def empty(self) -> bool:
        return not any(self.groups.values())

    def issue_link(self, number: str) -> str | None:
        return self.issues_url.format(id=number) if self.issues_url else None


def _repo(workspace: Path):
    import git

    try:
        return git.Repo(workspace, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def head_commit(workspace: Path) -> str | None:
    """HEAD of the git repository holding the workspace, or None outside git."""
    repo = _repo(workspace)
    if repo is None or not repo.head.is_valid():
        return None
    return repo.head.commit.hexsha


def commits_since(workspace: Path, since: str | None) -> list[Commit]:
    """Commits that touched the workspace after `since` (all of them when None), oldest first."""
    import git

    repo = _repo(workspace)
    if repo is None or not repo.head.is_valid():
        return []
    top = Path(repo.working_tree_dir).resolve()
    prefix = str(Path(workspace).resolve().relative_to(top))
    prefix = "" if prefix == "." else prefix + "/"
    rev = f"{since}..HEAD" if since else "HEAD"
    try:
        if since:
            repo.commit(since)
        found = list(repo.iter_commits(rev, paths=prefix or None))
    except (git.BadName, ValueError, git.GitCommandError):
        raise InputError(f"the previous release's commit {since} is not in this repository's history",
                         file=workspace, hint="was the workspace history rewritten?") from None
    commits = []
    for c in reversed(found):
        touched = sorted(p[len(prefix):] for p in c.stats.files if p.startswith(prefix))
        when = dt.datetime.fromtimestamp(c.committed_date, dt.timezone(dt.timedelta(seconds=-c.committer_tz_offset)))
        commits.append(Commit(c.hexsha, c.summary, c.message[len(c.summary):].strip(), c.author.name,
                              when.isoformat(), tuple(touched)))
    return commits


def _topics(path: str, profile: DeviceProfile) -> tuple[str, str] | None:
    """(group, topic) when `path` matters to this device, else None."""
    parts = path.split("/")
    if parts[0] == "overlays" and len(parts) > 2:
        return ("Features", parts[1]) if parts[1] in profile.overlays else None
    if parts[0] == "locales" and len(parts) > 2:
        return ("Translations", parts[1]) if parts[1] in profile.locales else None
    if parts[0] == "device-profiles" and len(parts) == 2 and path.endswith(".toml"):
        return ("Device", parts[1][:-5]) if parts[1][:-5] in profile.chain else None
    if parts[0] == "credits":
        return ("Credits", "contributors")
    if parts[0] in ("romforge.toml", "keys"):
        return ("Workspace", parts[0])
    return None


def notes_for_device(commits: list[Commit], profile: DeviceProfile, *, version: str, previous: str | None,
                     date: str, issues_url: str | None) -> ReleaseNotes:
    notes = ReleaseNotes(profile.profile, profile.model, version, previous, date, issues_url=issues_url)
    for commit in commits:
        per_group: dict[str, list[str]] = {}
        for path in commit.paths:
            hit = _topics(path, profile)
            if hit and hit[1] not in per_group.setdefault(hit[0], []):
                per_group[hit[0]].append(hit[1])
        for group in GROUPS:
            if per_group.get(group):
                notes.groups.setdefault(group, []).append(NoteEntry(commit, per_group[group]))
    notes.groups = {g: notes.groups[g] for g in GROUPS if g in notes.groups}
    return notes


def _environment(autoescape: bool) -> Environment:
    env = Environment(loader=PackageLoader("romforge", "templates"), keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True,
                      autoescape=select_autoescape(["html", "html.j2"]) if autoescape else False)
    env.filters["link_issues"] = _link_issues_filter
    return env


def _link_issues_filter(text: str, notes: ReleaseNotes, html: bool) -> str:
    from markupsafe import Markup, escape

    def repl(match: re.Match[str]) -> str:
        url = notes.issue_link(match.group(1))
        if not url:
            return match.group(0)
        if html:
            return f'<a href="{escape(url)}">#{match.group(1)}</a>'
        return f"[#{match.group(1)}]({url})"

    if html:  # references are found in the raw text, not the escaped one (`&#34;` holds "#34")
        pieces, last = [], 0
        for match in ISSUE_REF.finditer(text):
            pieces += [str(escape(text[last:match.start()])), repl(match) if notes.issue_link(match.group(1))
                       else str(escape(match.group(0)))]
            last = match.end()
        return Markup("".join(pieces) + str(escape(text[last:])))
    return ISSUE_REF.sub(repl, text)


def render(notes: ReleaseNotes, fmt: str) -> str:
    """Markdown ("md") or HTML ("html") release notes."""
    env = _environment(autoescape=fmt == "html")
    return env.get_template(f"changelog.{fmt}.j2").render(notes=notes, html=fmt == "html")
