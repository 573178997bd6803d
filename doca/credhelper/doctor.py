"""What `doca credentials doctor` finds about where docker keeps registry logins: the config,
its helpers (do they answer?), plaintext secrets, the keychain docker-credential-doca would use.
The CLI prints it; the desktop app shows it. Blocking (helpers are subprocesses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from doca.credhelper import dockerconfig as dc
from doca.credhelper import helpers

HELPER = "doca"
EXE = helpers.HELPER_PREFIX + HELPER
# The helper answers from the keychain; unlocking it may prompt, so allow a little longer.
CHECK_TIMEOUT = 15.0


@dataclass
class Diagnosis:
    """``facts`` are (label, value) lines; ``findings`` what needs attention (none: all well)."""

    facts: list[tuple[str, str]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    config_error: str | None = None


def plaintext_registries(config: dc.DockerConfig) -> list[str]:
    """auths entries holding a secret in the file (whatever else the config says)."""
    return [url for url, e in config.auths.items() if any((e or {}).get(k) for k in dc.SECRET_KEYS)]


def helper_problem(name: str) -> str | None:
    """Why `docker-credential-<name>` cannot serve docker right now, or None."""
    try:
        helpers.helper_list(name, timeout=CHECK_TIMEOUT)
    except helpers.HelperError as exc:
        return str(exc)
    return None


def backend_report() -> tuple[str, str | None]:
    """(backend name, problem or None) for the keychain docker-credential-doca would use."""
    import keyring  # its backends take a while to load; only the doctor needs them

    from doca.credhelper.store import StoreError, secure_backend

    chosen = keyring.get_keyring()
    try:
        backend = secure_backend(chosen)
    except StoreError as exc:
        return f"{type(chosen).__module__}.{type(chosen).__qualname__}", str(exc)
    return f"{type(backend).__module__}.{type(backend).__qualname__}", None


def diagnose(directory: Path | None = None) -> Diagnosis:
    found = Diagnosis()
    try:
        config = dc.load_config(directory)
    except dc.ConfigError as exc:
        found.facts.append(("Config", str(dc.config_dir(directory) / dc.CONFIG_NAME)))
        found.config_error = f"{exc}: fix the file or move it away (docker ignores it too)"
        found.findings.append(found.config_error)
        return found
    facts, findings = found.facts, found.findings
    facts.append(("Config", f"{config.path}{'' if config.exists else ' (not created yet)'}"))
    facts.append(("credsStore", config.creds_store or "(not set)"))
    per_registry = config.cred_helpers
    shown = ", ".join(f"{reg} → {name}" for reg, name in per_registry.items())
    facts.append(("credHelpers", shown or "(none)"))

    names = dict.fromkeys(filter(None, [config.creds_store, *per_registry.values()]))
    for name in names:
        problem = helper_problem(name)
        facts.append(("Helper", f"{helpers.HELPER_PREFIX}{name}: {problem or 'answers list'}"))
        if problem:
            findings.append(f"{problem}; install it, or remove `{name}` from {config.path}")

    plaintext = plaintext_registries(config)
    facts.append(("Plaintext", ", ".join(plaintext) or "(none)"))
    for url in plaintext:
        shadow = dc.helper_for(config, dc.server_address(url))
        why = f" (unused: {shadow} answers for it)" if shadow else ""
        findings.append(f"{url}: login stored in plaintext in config.json{why}; "
                        "run `doca credentials migrate --use`")  # fmt: skip

    backend, backend_problem = backend_report()
    verdict = "refused" if backend_problem else "secure"
    facts.append(("Keyring", f"{backend} ({verdict} for {EXE})"))
    relies_on_doca = HELPER in names or not config.creds_store
    if backend_problem and relies_on_doca:
        findings.append(backend_problem)
    if not config.creds_store:
        default = "" if config.contains_auth() else dc.detect_default_store()
        if default:
            facts.append(("Default", f"docker will pick credsStore {default} on its first login"))
        else:
            findings.append("no credsStore: `docker login` stores new passwords in plaintext; "
                            "run `doca credentials use`")  # fmt: skip
    return found
