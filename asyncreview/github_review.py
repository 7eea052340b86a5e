"""`--pr-review`: post the findings that sit on lines a pull request changes as ONE review through
GitHub's REST API, with the token Actions provides (GITHUB_TOKEN).

Everything comes from the environment Actions sets: GITHUB_API_URL, GITHUB_REPOSITORY and the
event payload at GITHUB_EVENT_PATH (pull request number and head commit). A comment carries a
hidden fingerprint, so a re-run on the next push does not repeat what is already on the PR.
Any failure is one line on stderr; the report and the exit code are never affected."""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from asyncreview.finding import Finding, Severity
from asyncreview.untrusted import one_line

MAX_COMMENTS = 50
_MARKER = "<!-- asyncreview:{} -->"
_MARKER_RE = re.compile(r"<!-- asyncreview:([0-9a-f]{32}) -->")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
ICONS = {Severity.CRITICAL: "\U0001F534", Severity.WARNING: "\U0001F7E0", Severity.SUGGESTION: "\U0001F535"}


class ReviewError(Exception):
    pass


class GitHub:
    """The few REST calls a review needs, with urllib (no extra dependency)."""

    def __init__(self, token: str, api_url: str, repository: str) -> None:
        self.token = token
        self.api = api_url.rstrip("/")
        self.repository = repository

    def request(self, method: str, path: str, body: Optional[dict] = None) -> Tuple[Any, Dict[str, str]]:
        url = path if path.startswith(("http://", "https://")) else f"{self.api}/repos/{self.repository}{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "asyncreview")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read()
                headers = {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:300]
            try:
                detail = json.loads(detail).get("message", detail)
            except (ValueError, AttributeError):
                pass
            raise ReviewError(f"{method} {url}: HTTP {error.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ReviewError(f"{method} {url}: {reason}") from None
        try:
            return (json.loads(payload) if payload else None), headers
        except ValueError:
            raise ReviewError(f"{method} {url}: the answer is not JSON") from None

    def paginate(self, path: str) -> List[dict]:
        items: List[dict] = []
        url: Optional[str] = f"{path}{'&' if '?' in path else '?'}per_page=100"
        for _ in range(100):  # 10,000 items at most
            if url is None:
                break
            page, headers = self.request("GET", url)
            if not isinstance(page, list):
                raise ReviewError(f"GET {path}: expected a list")
            items.extend(page)
            match = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("link", ""))
            url = match.group(1) if match else None
        return items


def added_lines(patch: str) -> Set[int]:
    """Lines of the new file that a unified-diff patch (as the PR files API returns it) adds."""
    lines: Set[int] = set()
    number = 0
    for text in patch.splitlines():
        match = _HUNK.match(text)
        if match:
            number = int(match.group(1))
            continue
        if not number or text.startswith("\\"):
            continue
        if text.startswith("+"):
            lines.add(number)
            number += 1
        elif text.startswith("-"):
            continue
        else:
            number += 1
    return lines


def pull_request(event_path: Optional[str]) -> Tuple[int, str]:
    """(number, head commit) from the event payload of a pull_request(_target) run."""
    if not event_path:
        raise ReviewError("GITHUB_EVENT_PATH is not set: --pr-review runs in a pull_request workflow")
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        pr = event["pull_request"]
        return int(pr["number"]), str(pr["head"]["sha"])
    except OSError as error:
        raise ReviewError(f"cannot read {event_path}: {error.strerror or error}") from None
    except (ValueError, KeyError, TypeError):
        raise ReviewError("the workflow event has no pull_request (run --pr-review on pull_request events)") from None


def _untrusted(value: object) -> str:
    """Text from the reviewed code or the model, on one line: no control characters, no
    @-mentions (a review must not ping people), no HTML comments (they would hide text or forge
    our markers)."""
    text = one_line(value)
    return text.replace("@", "@\u200b").replace("<!--", "&lt;!--").replace("-->", "--&gt;")


def _comment(finding: Finding, docs: Dict[str, Any], fingerprint: str) -> str:
    doc = docs.get(finding.code)
    name = f" {doc.name}" if doc is not None else ""
    link = f"[`{finding.code}`]({doc.help_uri})" if doc is not None else f"`{finding.code}`"
    body = f"{ICONS[finding.severity]} **{finding.severity.value}** {link}{name}\n\n{_untrusted(finding.message)}"
    review = finding.review
    if review:
        verdict, severity = _untrusted(review.get("verdict")), _untrusted(review.get("severity"))
        body += f"\n\n> **LLM review: {verdict}** ({severity}): {_untrusted(review.get('explanation', ''))}"
        if review.get("suggested_fix"):
            body += f"\n>\n> Suggested fix: {_untrusted(review['suggested_fix'])}"
    suggestion = _suggestion(finding)
    if suggestion:
        body += f"\n\n{suggestion}"
    return f"{body}\n\n{_MARKER.format(fingerprint)}"


def _suggestion(finding: Finding) -> str:
    """A ```suggestion block replacing the commented line with the fixed one: only for a fix on
    that one line (GitHub applies a suggestion to the commented lines, nothing else)."""
    from asyncreview.reporters import fixed_lines
    from asyncreview.untrusted import printable

    if finding.line != finding.end_line:
        return ""
    shown = fixed_lines(finding)
    if shown is None:
        return ""
    text = printable("\n".join(shown[1]))
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`{3,}", text)), default=0) + 1)
    label = "Fix" if finding.fix.safe else "Unsafe fix (check it)"  # type: ignore[union-attr]
    return f"{label}:\n{fence}suggestion\n{text}\n{fence}"


def _relative(path: str, root: Path) -> Optional[str]:
    try:
        return Path(os.path.realpath(path)).relative_to(os.path.realpath(root)).as_posix()
    except ValueError:
        return None


def build_review(
    findings: List[Finding],
    docs: Dict[str, Any],
    changed: Dict[str, Set[int]],
    root: Path,
    head_sha: str,
    posted: Set[str],
) -> Optional[dict]:
    """The review body, or None when no new finding sits on a changed line."""
    from asyncreview.diffmode import fingerprints

    comments = []
    skipped = 0
    for finding, fingerprint in zip(findings, fingerprints(findings, root)):
        path = _relative(finding.path, root)
        lines = changed.get(path or "")
        if not lines:
            continue
        anchor = next((n for n in range(finding.line, max(finding.line, finding.end_line) + 1) if n in lines), None)
        if anchor is None:
            continue
        if fingerprint in posted:
            skipped += 1
            continue
        comments.append((finding, {"path": path, "line": anchor, "side": "RIGHT", "body": _comment(finding, docs, fingerprint)}))
    if not comments:
        return None
    shown = comments[:MAX_COMMENTS]
    counts = {s: sum(1 for f, _ in comments if f.severity is s) for s in Severity}
    parts = ", ".join(f"{counts[s]} {s.value.lower()}" for s in Severity if counts[s])
    body = f"**asyncreview** found {len(comments)} new finding{'s' if len(comments) != 1 else ''} ({parts}) on lines this pull request changes."
    if len(comments) > len(shown):
        body += f" The {len(shown)} most severe are commented below; the job summary has them all."
    if skipped:
        body += f" {skipped} already commented on earlier."
    return {"commit_id": head_sha, "event": "COMMENT", "body": body, "comments": [c for _, c in shown]}


def post_review(findings: List[Finding], docs: Dict[str, Any], env: Optional[Dict[str, str]] = None, root: Optional[Path] = None) -> str:
    """Posts the review; returns what happened in one line. Raises ReviewError."""
    env = dict(os.environ if env is None else env)
    token = env.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise ReviewError("GITHUB_TOKEN is not set (pass `env: GITHUB_TOKEN: ${{ github.token }}`)")
    repository = env.get("GITHUB_REPOSITORY", "")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        raise ReviewError("GITHUB_REPOSITORY is not set to owner/name")
    number, head_sha = pull_request(env.get("GITHUB_EVENT_PATH"))
    github = GitHub(token, env.get("GITHUB_API_URL") or "https://api.github.com", repository)
    changed = {}
    for entry in github.paginate(f"/pulls/{number}/files"):
        if isinstance(entry, dict) and isinstance(entry.get("filename"), str) and isinstance(entry.get("patch"), str):
            changed[entry["filename"]] = added_lines(entry["patch"])
    posted = set()
    for comment in github.paginate(f"/pulls/{number}/comments"):
        if isinstance(comment, dict):
            posted.update(_MARKER_RE.findall(str(comment.get("body", ""))))
    root = root or Path(env.get("GITHUB_WORKSPACE") or Path.cwd())
    review = build_review(findings, docs, changed, root, head_sha, posted)
    if review is None:
        return f"pull request #{number}: no new findings on changed lines; no review posted"
    answer, _ = github.request("POST", f"/pulls/{number}/reviews", review)
    where = answer.get("html_url", "") if isinstance(answer, dict) else ""
    count = len(review["comments"])
    return f"pull request #{number}: posted a review with {count} comment{'s' if count != 1 else ''} {where}".rstrip()


def post_from_cli(result, docs: Dict[str, Any], show_refuted: bool = False) -> bool:
    findings = [
        f for f in result.findings if show_refuted or not f.hidden_by_review
    ]
    try:
        message = post_review(findings, docs)
    except ReviewError as error:
        print(f"asyncreview: --pr-review: {one_line(error)}", file=sys.stderr)  # may quote the API's answer
        return False
    print(f"asyncreview: {one_line(message)}", file=sys.stderr)
    return True
