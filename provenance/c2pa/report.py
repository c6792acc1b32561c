"""What reading a file's C2PA manifest store returns: a typed report with a stable JSON shape.

The shape is documented in docs/verification.md ("The `c2pa` section"); add
fields, never rename or drop them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# `state` values.
PRESENT = "present"  # a manifest store was read (see validation_state for whether it holds)
ABSENT = "absent"  # the file carries no C2PA data
UNAVAILABLE = "unavailable"  # the manifest is stored remotely and was not fetched
UNSUPPORTED = "unsupported"  # c2pa does not read this kind of file
ERROR = "error"  # C2PA data that could not be read (damaged, malformed)


@dataclass(frozen=True)
class ValidationCode:
    code: str  # e.g. signingCredential.untrusted, assertion.dataHash.mismatch
    explanation: str
    kind: str  # failure | informational | success
    url: str = ""

    def to_dict(self) -> dict:
        return {"code": self.code, "explanation": self.explanation, "kind": self.kind, "url": self.url}


@dataclass(frozen=True)
class SignerInfo:
    issuer: str | None  # the certificate issuer's organisation, as c2pa reports it
    common_name: str | None
    algorithm: str | None
    signed_at: str | None  # from a trusted timestamp when the manifest has one
    trusted: bool  # chains to a configured trust anchor

    def to_dict(self) -> dict:
        return {
            "issuer": self.issuer,
            "common_name": self.common_name,
            "algorithm": self.algorithm,
            "signed_at": self.signed_at,
            "trusted": self.trusted,
        }


@dataclass(frozen=True)
class Action:
    action: str  # e.g. c2pa.created, c2pa.opened, c2pa.color_adjustments
    digital_source_type: str | None = None
    software_agent: str | None = None
    generative: bool = False

    def to_dict(self) -> dict:
        return {
            "action": self.action,
            "digital_source_type": self.digital_source_type,
            "software_agent": self.software_agent,
            "generative": self.generative,
        }


@dataclass(frozen=True)
class Ingredient:
    title: str | None
    relationship: str | None  # parentOf | componentOf | inputTo
    format: str | None = None
    manifest: str | None = None  # label of the ingredient's own manifest, when it carried one

    def to_dict(self) -> dict:
        return {"title": self.title, "relationship": self.relationship, "format": self.format, "manifest": self.manifest}


@dataclass(frozen=True)
class Manifest:
    label: str
    claim_generator: str | None
    title: str | None
    signer: SignerInfo | None
    actions: tuple[Action, ...] = ()
    ingredients: tuple[Ingredient, ...] = ()
    assertions: tuple[str, ...] = ()  # labels only

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "claim_generator": self.claim_generator,
            "title": self.title,
            "signer": self.signer.to_dict() if self.signer else None,
            "actions": [a.to_dict() for a in self.actions],
            "ingredients": [i.to_dict() for i in self.ingredients],
            "assertions": list(self.assertions),
        }


@dataclass(frozen=True)
class C2paReport:
    state: str  # PRESENT, ABSENT, UNAVAILABLE, UNSUPPORTED or ERROR
    validation_state: str | None = None  # c2pa's: Invalid | Valid | Trusted (None unless present)
    codes: tuple[ValidationCode, ...] = ()  # failures and informational codes of the active manifest
    active: Manifest | None = None
    # Every manifest in the store, active last: the edit history, each one an ingredient of the next.
    manifests: tuple[Manifest, ...] = ()
    reason: str | None = None  # why state is not PRESENT
    remote_url: str | None = None
    # The Provenance assertion of the active manifest: which certificate this copy claims (a hint to look up, not proof).
    provenance: dict | None = None
    ingredient_codes: tuple[ValidationCode, ...] = field(default=())  # validation of ingredients' manifests

    @property
    def present(self) -> bool:
        return self.state == PRESENT

    @property
    def generative(self) -> bool:
        """The active manifest declares a generative source on one of its actions."""
        return self.active is not None and any(a.generative for a in self.active.actions)

    @property
    def digital_source_types(self) -> list[str]:
        if self.active is None:
            return []
        return sorted({a.digital_source_type for a in self.active.actions if a.digital_source_type})

    @property
    def failures(self) -> list[str]:
        return [c.code for c in self.codes if c.kind == "failure"]

    def to_dict(self) -> dict:
        return {
            "present": self.present,
            "state": self.state,
            "validation_state": self.validation_state,
            "generative": self.generative,
            "digital_source_types": self.digital_source_types,
            "claim_generator": self.active.claim_generator if self.active else None,
            "signer": self.active.signer.to_dict() if self.active and self.active.signer else None,
            "actions": [a.to_dict() for a in self.active.actions] if self.active else [],
            "ingredients": [i.to_dict() for i in self.active.ingredients] if self.active else [],
            "validation_codes": [c.to_dict() for c in self.codes],
            "ingredient_validation_codes": [c.to_dict() for c in self.ingredient_codes],
            "manifests": [m.to_dict() for m in self.manifests],
            "provenance": self.provenance,
            "remote_url": self.remote_url,
            "reason": self.reason,
        }

    def summary(self) -> str:
        """One line for people."""
        if self.state == ABSENT:
            return "no C2PA manifest"
        if self.state != PRESENT:
            return f"{self.state}: {self.reason}" if self.reason else self.state
        signer = self.active.signer if self.active else None
        who = ""
        if signer is not None:
            name = signer.common_name or signer.issuer or "unknown signer"
            who = f" signed by {name}" + (f" ({signer.issuer})" if signer.issuer and signer.issuer != name else "")
            who += "" if signer.trusted else " [untrusted signer]"
        failed = [c for c in self.failures if c != "signingCredential.untrusted"]
        problems = f"; failures: {', '.join(failed)}" if failed else ""
        source = f"; GENERATIVE SOURCE DECLARED ({', '.join(_terms(self.digital_source_types))})" if self.generative else ""
        count = f", {len(self.manifests)} manifests" if len(self.manifests) > 1 else ""
        return f"{self.validation_state}{who}{count}{source}{problems}"


def _terms(types: list[str]) -> list[str]:
    from .sources import is_generative, term

    return [term(t) for t in types if is_generative(t)]
