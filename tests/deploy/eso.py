"""ExternalSecrets rendered into the Secrets the External Secrets Operator would write.

ESO renders `target.template.data` with Go's text/template; Voxflow's templates use only field
references and the built-in `urlquery` function, and anything else raises here, so a template
this renderer does not understand fails the test rather than being passed through.
"""

from __future__ import annotations

import re
from urllib.parse import quote_plus

from tests.deploy.k8s import Obj, of_kind

FUNCTIONS = {"urlquery": lambda value: quote_plus(value, safe="")}  # Go's url.QueryEscape
ACTION = re.compile(r"\{\{(.*?)\}\}")


def render_template(template: str, values: dict[str, str]) -> str:
    def action(match: re.Match[str]) -> str:
        pipeline = [part.strip() for part in match.group(1).split("|")]
        field = pipeline[0]
        if not re.fullmatch(r"\.\w+", field):
            raise ValueError(f"unsupported template action {match.group(0)!r}")
        value = values[field[1:]]
        for function in pipeline[1:]:
            if function not in FUNCTIONS:
                raise ValueError(f"unsupported template function {function!r}")
            value = FUNCTIONS[function](value)
        return value

    return ACTION.sub(action, template)


def render_external_secrets(
    objects: list[Obj], vault: dict[str, str], skip: frozenset[str] = frozenset()
) -> dict[str, dict[str, str]]:
    """Secret name -> data, from every ExternalSecret and the vault's secret values."""
    secrets: dict[str, dict[str, str]] = {}
    for external in of_kind(objects, "ExternalSecret"):
        target = external["spec"]["target"]
        if target["name"] in skip:
            continue
        values = {
            item["secretKey"]: vault[item["remoteRef"]["key"]] for item in external["spec"]["data"]
        }
        template = (target.get("template") or {}).get("data")
        secrets[target["name"]] = (
            {key: render_template(text, values) for key, text in template.items()}
            if template
            else values
        )
    return secrets
