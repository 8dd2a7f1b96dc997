"""The platform's exceptions.

Every error a user can cause by their input is a :class:`KequnError`. The CLI turns it into a
single line on stderr and a non-zero exit code; users never see a traceback for their own
mistakes. Messages name the file, table, column or parameter and echo the offending *setting*
("Got ..."), never a personal data value.
"""

from __future__ import annotations


class KequnError(Exception):
    """Base class of every error kequn reports to a user."""

    exit_code = 1


class InputError(KequnError):
    """A file, table, column or option the user gave cannot be used."""


class ConfigError(KequnError):
    """A YAML file under conf/ (or given with an option) is invalid."""


class PrivacyError(KequnError):
    """Pseudonymisation could not be completed or the policy is not met."""


class KeyMissingError(PrivacyError):
    """No usable pseudonymisation key was configured."""


class PolicyNotMetError(PrivacyError):
    """The policy is not met or the residual scan found a direct identifier."""


class LineageError(KequnError):
    """Data does not carry a passing manifest from `kequn pseudonymise` (the privacy firewall)."""


class FeatureError(KequnError):
    """Features cannot be built from the given clean zone."""


class TrainingError(KequnError):
    """An experiment cannot be run with the given data or options."""


class RegistryError(KequnError):
    """A registry operation (publish, approve, promote) is refused."""
