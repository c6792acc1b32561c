"""The one line `verify` and `detect` print for a file's `c2pa` section (from its JSON shape, so both agree)."""

from __future__ import annotations

from rich.markup import escape


def c2pa_line(section: dict | None) -> str | None:
    """Rich markup for the section, or None when there is nothing to say (no section)."""
    if not section:
        return None
    state = section.get("state")
    if state == "absent":
        return "C2PA: no manifest"
    if state != "present":
        reason = f": {section['reason']}" if section.get("reason") else ""
        url = f" ({section['remote_url']})" if section.get("remote_url") else ""
        return f"C2PA: {escape(str(state))}{escape(reason)}{escape(url)}"
    validity = section.get("validation_state") or "unknown"
    colour = "green" if validity in ("Valid", "Trusted") else "red"
    parts = [f"C2PA: [{colour}]{escape(validity)}[/]"]
    signer = section.get("signer") or {}
    name = signer.get("common_name") or signer.get("issuer")
    if name:
        parts.append(f"signed by {escape(name)}" + ("" if signer.get("trusted") else " (untrusted signer)"))
    if section.get("claim_generator"):
        parts.append(f"generator {escape(section['claim_generator'])}")
    failures = [
        c["code"] for c in section.get("validation_codes", []) if c.get("kind") == "failure" and c["code"] != "signingCredential.untrusted"
    ]
    if failures:
        parts.append("[red]failures: " + escape(", ".join(failures)) + "[/]")
    if len(section.get("manifests", [])) > 1:
        parts.append(f"{len(section['manifests'])} manifests")
    if section.get("generative"):
        from .sources import is_generative, term

        declared = [term(t) for t in section.get("digital_source_types", []) if is_generative(t)]
        parts.append(f"[bold magenta]DECLARED GENERATIVE SOURCE: {escape(', '.join(declared))}[/]")
    return "; ".join(parts)
