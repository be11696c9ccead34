"""Stored XSS: a hostile value in every template renders as text, never as markup.

The pages are parsed back with lxml's HTML parser (the independent reader): no <script>
element, no event-handler attribute, and the hostile text present as text.
"""

from __future__ import annotations

from pathlib import Path

import lxml.html

from romforge.release.changelog import Commit, NoteEntry, ReleaseNotes, render
from romforge.release.publish import publish
from romforge.release.record import Artifact, Notes, ReleaseRecord, write_release
from romforge.workspace import load_workspace

SCRIPT = '<script>alert("x")</script>'
IMG = '"><img src=x onerror=alert(1)>'


def _assert_inert(page: str, *texts: str) -> None:
    doc = lxml.html.fromstring(page)
    assert doc.xpath("//script") == [], page
    handlers = [a for el in doc.iter() if isinstance(el.tag, str) for a in el.attrib if a.lower().startswith("on")]
    assert handlers == [], handlers
    assert doc.xpath("//img") == []
    shown = doc.text_content()
    for text in texts:
        assert text in shown, text


def _notes(model: str) -> ReleaseNotes:
    commit = Commit(sha="c0ffee" * 6 + "abcd", subject=f"flashlight {SCRIPT} fixes #12", body=IMG,
                    author=f"Mallory {IMG}", date="2026-11-27T10:00:00+00:00", paths=("overlays/x/overlay.toml",))
    return ReleaseNotes(device="alioth", model=model, version="2026.48.1", previous="2026.47.1",
                        date="2026-11-27", groups={"Features": [NoteEntry(commit, [f"tile{SCRIPT}"])]},
                        issues_url="https://example.org/issues/{id}")


def test_changelog_html_escapes_commit_subject_author_overlay_name_and_model() -> None:
    page = render(_notes(f"Phone {SCRIPT}"), "html")
    _assert_inert(page, f"flashlight {SCRIPT}", f"Mallory {IMG}", f"tile{SCRIPT}", f"Phone {SCRIPT}")
    assert lxml.html.fromstring(page).xpath("//a/@href") == ["https://example.org/issues/12"]


def test_site_index_and_device_page_escape_the_model_date_and_notes(workspace: Path) -> None:
    ws = load_workspace(workspace)
    release = ws.releases / "alioth" / "2026.48.1"
    release.mkdir(parents=True)
    model = f"Mi 11X {SCRIPT}{IMG}"
    (release / "notes.html").write_text(render(_notes(model), "html"))
    record = ReleaseRecord(
        schema=1, device="alioth", model=model, version="2026.48.1", week="2026-W48", date=f"2026-11-27{SCRIPT}",
        datetime=1764201600, fingerprint="x", source_commit=None, previous=None,
        artifacts={"ota-full.zip": Artifact(size=1234, sha256="ab" * 32), f"x{IMG}.zip": Artifact(size=1, sha256="cd" * 32)},
        deltas=[], notes=Notes(md="notes.md", html="notes.html"), inputs={})
    write_release(record, release)
    site = publish(ws).site
    index = (site / "index.html").read_text()
    _assert_inert(index, model, f"2026-11-27{SCRIPT}")
    device = (site / "alioth.html").read_text()
    _assert_inert(device, model, f"x{IMG}.zip", f"flashlight {SCRIPT}")
