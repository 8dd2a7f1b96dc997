"""``kequn keys init``: create a person's Ed25519 signing key pair."""

from __future__ import annotations

import click

from kequn import console


@click.group("keys")
def command() -> None:
    """Signing keys for approvals and promotions, and the privacy step's key (private keys
    outside the repository).

    \b
    Examples:
      kequn keys init --name li.reviewer
      kequn keys step
    """


@command.command("init")
@click.option("--name", required=True, help="The person the key belongs to (as in conf/keyring.yaml).")
def init(name: str) -> None:
    """Create WHO's key pair: the private key in $KEQUN_KEY_DIR or ~/.kequn/keys/WHO.key
    (mode 0600, never overwritten), and print the public key line to add to the reviewed
    keyring conf/keyring.yaml with the person's roles (author, reviewer, owner).

    \b
    Example:
      kequn keys init --name li.reviewer
    """
    from pipelines.signing import init_key

    path, public = init_key(name)
    console.info(f"private key written to {path} (mode 0600); keep it secret, never commit or share it")
    console.result(f"add under people: in conf/keyring.yaml (choose the roles):\n"
                   f"  {name}: {{public_key: \"{public}\", roles: [reviewer]}}")


@command.command("step")
def step() -> None:
    """Create the privacy step's signing key if it does not exist ($KEQUN_STEP_KEY, else
    ~/.kequn/keys/steps/privacy.key, mode 0600) and print its public key line for the steps:
    section of conf/keyring.yaml. `kequn pseudonymise` signs clean-zone manifests and
    `kequn features` signs feature tables with it; once the keyring lists a step key, only
    listed step keys are trusted by `features`, `train` and `publish`.

    \b
    Example:
      KEQUN_STEP_KEY=/secure/privacy-step.key kequn keys step
    """
    from kequn.signing import ensure_step_key, public_key_text, step_key_path

    key, note = ensure_step_key()
    if note:
        console.info(f"  {note}")
    console.result(f"add under steps: in conf/keyring.yaml (a reviewed change):\n"
                   f"  privacy-step: {{public_key: \"{public_key_text(key.public_key())}\"}}\n"
                   f"private key: {step_key_path()} (keep it with the privacy step only)")
