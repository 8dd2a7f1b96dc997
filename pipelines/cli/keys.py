"""``kequn keys init``: create a person's Ed25519 signing key pair."""

from __future__ import annotations

import click

from kequn import console


@click.group("keys")
def command() -> None:
    """Signing keys for approvals and promotions (private keys outside the repository).

    \b
    Example:
      kequn keys init --name li.reviewer
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
