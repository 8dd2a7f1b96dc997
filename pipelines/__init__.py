"""kequn pipelines (the roof): the CLI, the chains (synthetic bank, demo) and governance.

Governance is the gates, the registry workflow, the audit trail and the model card. The
package imports every floor below it (``kequn``, ``privacy``, ``features``, ``experiments``);
nothing below imports it.
"""
